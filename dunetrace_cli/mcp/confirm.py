"""Destructive MCP tools (deletes, resolving an issue) ask the user first, through elicitation.

Where the client supports form elicitation the tool asks "are you sure" and changes nothing unless
the user accepts; a decline or cancel is a tool error saying nothing was changed. Where the client
cannot ask (no elicitation capability, or a connection without a back-channel) the change goes ahead
as the client approved the call, and the result says that no confirmation could be asked.
"""

from __future__ import annotations

import logging
from typing import Any

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from dunetrace_cli.registry import Operation

logger = logging.getLogger("dunetrace_cli.mcp")

NO_ELICITATION = (
    "this client cannot ask for confirmation (no MCP elicitation support), so the change was made as the "
    "tool call was approved in the client"
)


class Confirmation(BaseModel):
    confirm: bool = Field(default=False, description="true to go ahead; the change cannot be undone")


def _question(op: Operation, arguments: dict[str, Any]) -> str:
    from dunetrace_cli.render.sanitize import clean

    shown = ", ".join(f"{k}={clean(str(v), newlines=False)[:80]}" for k, v in arguments.items() if v not in (None, ""))
    return f"{op.title or op.mcp} ({shown}): this cannot be undone. Go ahead?"


def _can_elicit(ctx: Any) -> bool:
    try:
        session = ctx.request_context.session
    except (AttributeError, ValueError, LookupError):
        return False
    caps = getattr(session, "client_capabilities", None)
    if caps is None or getattr(caps, "elicitation", None) is None:
        return False
    return bool(getattr(session, "can_send_request", True))


async def confirm_destructive(ctx: Any, op: Operation, arguments: dict[str, Any]) -> list[str]:
    """Ask before a destructive tool runs. Returns notes for the result; raises ToolError when declined."""
    from mcp.shared.exceptions import NoBackChannelError

    if not op.destructive:
        return []
    if ctx is None or not _can_elicit(ctx):
        return [NO_ELICITATION]
    try:
        answer = await ctx.elicit(_question(op, arguments), Confirmation)
    except NoBackChannelError:
        return [NO_ELICITATION]
    except ValueError:  # an accept with content that does not match the form
        raise ToolError("not confirmed (the client's answer did not match the question): nothing was changed.") from None
    data = getattr(answer, "data", None)
    if getattr(answer, "action", None) == "accept" and isinstance(data, Confirmation) and data.confirm:
        return []
    raise ToolError("not confirmed by the user: nothing was changed.")
