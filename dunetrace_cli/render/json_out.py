"""--json: the result model as the API would spell it, plus ISO twins of every timestamp."""

from __future__ import annotations

import json

from pydantic import BaseModel


def to_json(result: BaseModel) -> str:
    return json.dumps(result.model_dump(mode="json"), indent=2, ensure_ascii=False)
