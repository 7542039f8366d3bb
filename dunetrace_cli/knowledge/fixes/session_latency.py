import asyncio


async def gather_tools(calls):
    # calls: list of coroutines for tool calls that do not depend on each other
    return await asyncio.gather(*calls, return_exceptions=True)
