"""Issues: one per agent and failure type, tracked by the server across runs (newer servers only)."""

from __future__ import annotations

import asyncio
from typing import Any

from dunetrace_cli.client import ApiClient
from dunetrace_cli.errors import ApiUnavailable, UsageError
from dunetrace_cli.models.issues import ISSUE_STATUSES, Issue, IssueDetail, IssueList
from dunetrace_cli.queries._common import feature_get, normalize_failure_type, page_all, require_agent, seg

FEATURE, WHAT = "issues", "issues"
SEARCH_PAGE = 500


ACTIVE = ("open", "reopened")  # "active" (ours): every issue that is not resolved


def normalize_status(value: str | None, *, default: str = "all") -> str:
    """open | resolved | reopened, or ours: active (open + reopened), all (the server just omits the filter)."""
    text = (value or "").strip().lower()
    if not text:
        return default
    if text not in (*ISSUE_STATUSES, "active", "all"):
        raise UsageError(f"invalid issue status '{value}'. Valid: open, reopened, resolved, active, all.")
    return text


def issue_id_of(value: Any) -> int:
    try:
        number = int(str(value).strip().lstrip("#"))
    except ValueError:
        raise UsageError(f"invalid issue id '{value}': issue ids are positive integers (list them first).") from None
    if number <= 0:
        raise UsageError(f"invalid issue id '{value}': issue ids are positive integers.")
    return number


async def list_agent_issues(
    client: ApiClient, *, agent_id: str, status: str | None = "open", limit: int | None = None, offset: int | None = 0
) -> IssueList:
    """An agent's issues with the given status (default open); 'all' lists every status.

    The route answers every issue of the agent, so a page (``offset``, ``limit``: MCP paging) is cut here.
    """
    wanted = normalize_status(status, default="open")
    params = {} if wanted in ("all", "active") else {"status": wanted}
    path = f"/v1/agents/{seg(agent_id)}/issues"
    _, body = await asyncio.gather(require_agent(client, agent_id), feature_get(client, FEATURE, WHAT, path, params))
    issues = [Issue.model_validate(row) for row in (body.get("issues") or [])]  # open, reopened, resolved; newest first
    total = int(body.get("total") or len(issues))
    if wanted == "active":
        issues = [i for i in issues if i.status in ACTIVE]
        total = len(issues)
    start = offset or 0
    if limit is not None or start:
        issues = issues[start:] if limit is None else issues[start:start + limit]
    return IssueList(agent_id=agent_id, status=wanted, issues=issues, total=total, limit=limit, offset=start)


async def search_issues(
    client: ApiClient,
    *,
    query: str | None = None,
    status: str | None = None,
    agent_id: str | None = None,
    failure_type: str | None = None,
    limit: int = 20,
    offset: int | None = 0,
) -> IssueList:
    """Issues across every agent: a substring over agent id, failure type and resolution notes.

    ``offset`` (MCP paging) is passed to the server's own paging; ``active`` (two searches) fetches the
    first ``offset + limit`` of each, merges them newest first and cuts the page.
    """
    if limit < 1:
        raise UsageError(f"invalid limit {limit}: it must be at least 1.")
    start = offset or 0
    wanted = normalize_status(status)
    ftype = normalize_failure_type(failure_type)
    params: dict[str, Any] = {"q": (query or "").strip()}
    if agent_id:
        params["agent_id"] = agent_id
    if ftype:
        params["failure_type"] = ftype
    if wanted == "active":  # two searches, merged newest first
        parts = await asyncio.gather(*(
            search_issues(client, query=query, status=s, agent_id=agent_id, failure_type=ftype, limit=start + limit)
            for s in ACTIVE
        ))
        merged = sorted((i for part in parts for i in part.issues), key=lambda i: -(i.last_seen or 0.0))
        return IssueList(
            agent_id=agent_id or None, status="active", query=params["q"] or None, failure_type=ftype,
            issues=merged[start:start + limit], total=sum(p.total for p in parts), limit=limit, offset=start,
        )
    if wanted != "all":
        params["status"] = wanted
    first = await feature_get(
        client, FEATURE, WHAT, "/v1/issues/search", {**params, "limit": min(limit, SEARCH_PAGE), "offset": start}
    )
    rows = list(first.get("issues") or [])
    total = int((first.get("page") or {}).get("total") or len(rows))
    if agent_id:
        await require_agent(client, agent_id)
    if (first.get("page") or {}).get("has_more") and len(rows) < limit:
        rest, total = await page_all(
            client, "/v1/issues/search", "issues", params, page_size=SEARCH_PAGE, max_rows=start + limit
        )
        rows = rest[start:]
    issues = [Issue.model_validate(row) for row in rows[:limit]]
    return IssueList(
        agent_id=agent_id or None, status=wanted, query=params["q"] or None, failure_type=ftype,
        issues=issues, total=max(total, start + len(issues)) if issues else total, limit=limit, offset=start,
    )


async def get_issue(client: ApiClient, *, issue_id: int | str) -> IssueDetail:
    """One issue: affected runs, and the server's root cause and fix (it may run an LLM explain first)."""
    number = issue_id_of(issue_id)
    client.progress(
        f"fetching issue {number}; the server may run an LLM explanation first (up to {client.settings.timeout:g}s)…"
    )
    try:
        body = await feature_get(client, FEATURE, WHAT, f"/v1/issues/{number}")
    except ApiUnavailable as exc:
        if "did not answer within" not in exc.message:
            raise
        raise ApiUnavailable(
            f"the server did not finish issue {number} within {client.settings.timeout:g}s (its LLM explanation "
            "can take 5-15 s): retry with a longer timeout (--timeout 60 or DUNETRACE_TIMEOUT=60)."
        ) from exc
    detail = IssueDetail.model_validate(body)
    if detail.root_cause is None and detail.suggested_fix is None:
        detail.notes.append("no root cause or suggested fix: the server has no LLM key configured, or the explanation failed.")
    return detail


async def find_issues(
    client: ApiClient,
    *,
    agent_id: str | None = None,
    query: str | None = None,
    status: str | None = None,
    failure_type: str | None = None,
    limit: int = 20,
    offset: int | None = 0,
) -> IssueList:
    """``dunetrace issues [AGENT]`` / ``search_issues``: one agent's list when only AGENT is given, else a search."""
    if agent_id and not (query or "").strip() and not failure_type:
        return await list_agent_issues(client, agent_id=agent_id, status=status or "all", limit=limit, offset=offset)
    return await search_issues(
        client, query=query, status=status, agent_id=agent_id, failure_type=failure_type, limit=limit, offset=offset
    )
