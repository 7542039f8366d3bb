MAX_DELEGATION_DEPTH = 3


def delegate(agent_name: str, task: str, depth: int = 0):
    if depth >= MAX_DELEGATION_DEPTH:
        raise RuntimeError(f"delegation depth {depth} reached; answer with what you have")
    return run_agent(agent_name, task, depth=depth + 1)
