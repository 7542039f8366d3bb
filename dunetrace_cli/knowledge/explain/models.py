"""The fields an explanation adds to a signal (the server's explainer adds the same)."""

from __future__ import annotations

from pydantic import BaseModel


class SuggestedFix(BaseModel):
    """One remedy: a short description plus code (``language`` "python") or prose ("text")."""

    description: str
    language: str
    code: str


class Explanation(BaseModel):
    """The human-facing fields of a signal."""

    title: str
    what: str
    why_it_matters: str
    evidence_summary: str
    suggested_fixes: list[SuggestedFix]
