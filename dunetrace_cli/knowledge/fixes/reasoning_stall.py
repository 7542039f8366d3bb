MAX_THINKING_TURNS = 3
thinking_turns = 0

# in the agent loop, after each model reply:
if reply_has_tool_calls:
    thinking_turns = 0
else:
    thinking_turns += 1
    if thinking_turns >= MAX_THINKING_TURNS:
        messages.append({"role": "user", "content": "Act now: call a tool or give your final answer."})
