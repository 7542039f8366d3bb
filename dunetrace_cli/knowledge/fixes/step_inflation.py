result = agent.invoke(inputs, config={"recursion_limit": 25})
