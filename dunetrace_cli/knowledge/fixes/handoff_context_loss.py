facts = "\n".join(f"- {key}: {value}" for key, value in known_facts.items())
with dt.run("sub-agent", user_input=f"{task}\n\nKnown facts:\n{facts}",
            parent_run_id=parent_run.run_id) as child_run:
    ...
