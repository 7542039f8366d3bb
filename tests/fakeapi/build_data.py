"""Rebuild ``tests/data/real-api*/`` from the captured Customer API fixtures.

Run from the repository root::

    python -m tests.fakeapi.build_data --src /path/to/shared/fixtures

For each server generation (``real-api`` = March 2026, ``real-api-latest``) it

* copies every captured response, ``index.json`` and ``README.md`` byte for byte
  into ``tests/data/<generation>/captures/`` (the oracles of ``test_fakeapi.py``,
  and the source of the zero bodies the fake returns for unknown agents);
* writes ``tests/data/<generation>/dataset.json``: the capture's ``dataset.json``
  with the same values, but with keys in the order the API emits them (the
  source file was dumped with ``sort_keys``), plus one private key,
  ``_processed_at``, described below.

Key order is restored from the captures themselves: field order of each
response model from a captured instance, ``payload``/``evidence`` in Postgres
``jsonb`` order (shorter keys first, then bytewise; every captured payload
follows it), and ``failure_types`` in the order of the captured agent list.
Insights, health-score and token-stats bodies are taken from the captured
per-agent responses after checking they equal the dataset's.

``_processed_at`` maps run_id to the detector's ``processed_at``. The API never
returns it, but ``GET /v1/runs`` orders by it across agents. Exact values come
from the latest signals' ``detected_at`` (the capture set it to
``processed_at``), from the insights ``versions[].first_seen/last_seen``
(min/max ``processed_at`` per version) and from the March signals'
``detected_at``. The remaining runs are placed by the captured org-wide run
lists (the newest 50 runs are captured in order) and, past those, by
interpolation inside each agent's known order (the per-agent lists are sorted
by ``processed_at``). Those interpolated values are estimates; only their
relative order is used.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
GENERATIONS = ("real-api", "real-api-latest")

# Detector poll period seen in the captures: runs are processed in batches
# about 5 s apart (see the clusters of detected_at values).
_TICK_GAP = 1.0


def _jsonb_order(value: Any) -> Any:
    """Reorder dict keys the way Postgres jsonb stores them (length, then bytes)."""
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (len(k.encode()), k.encode()))
        return {k: _jsonb_order(value[k]) for k in keys}
    if isinstance(value, list):
        return [_jsonb_order(v) for v in value]
    return value


def _ordered(obj: dict, order: list[str]) -> dict:
    missing = [k for k in obj if k not in order]
    if missing:
        raise SystemExit(f"no captured key order for {missing}")
    out = {k: obj[k] for k in order if k in obj}
    for k in ("payload", "evidence"):
        if k in out:
            out[k] = _jsonb_order(out[k])
    if "suggested_fixes" in out:
        out["suggested_fixes"] = [
            _ordered(f, ["description", "language", "code"]) for f in out["suggested_fixes"]
        ]
    return out


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _captured(src: Path) -> list[tuple[dict, Any]]:
    index = _load(src / "index.json")
    out = []
    for req in index["requests"]:
        if not req.get("file") or not (src / req["file"]).exists():
            continue  # e.g. the /docs HTML page, which was not saved
        f = src / req["file"]
        if f.suffix == ".json" and f.exists():
            out.append((req, _load(f)))
    return out


def _key_orders(captures: list[tuple[dict, Any]]) -> dict[str, list[str]]:
    """Field order per response model, read from the first captured instance."""
    orders: dict[str, list[str]] = {}

    def note(name: str, obj: dict) -> None:
        orders.setdefault(name, list(obj))

    for req, body in captures:
        if req["status"] != 200 or not isinstance(body, dict):
            continue
        for a in body.get("agents", []):
            note("agent", a)
        for r in body.get("runs", []):
            note("run", r)
        for s in body.get("signals", []):
            note("signal" if "run_id" in s else "run_signal", s)
        if "events" in body:
            note("run_detail", body)
            for e in body["events"]:
                note("event", e)
    return orders


def _agent_failure_type_order(captures: list[tuple[dict, Any]]) -> dict[str, list[str]]:
    for req, body in captures:
        plain = not req["query"] and not req.get("headers")
        if req["path"] == "/v1/agents" and plain and req["status"] == 200:
            return {a["agent_id"]: list(a["failure_types"]) for a in body["agents"]}
    raise SystemExit("no captured GET /v1/agents")


def _per_agent_bodies(captures: list[tuple[dict, Any]], suffix: str) -> dict[str, Any]:
    out = {}
    for req, body in captures:
        parts = req["path"].split("/")
        if len(parts) == 5 and parts[4] == suffix and req["status"] == 200 and not req["query"]:
            out[parts[3]] = body
    return out


def build_dataset(src: Path, processed_at: dict[str, float]) -> dict:
    raw = _load(src / "dataset.json")
    captures = _captured(src)
    orders = _key_orders(captures)
    ft_order = _agent_failure_type_order(captures)

    agents = []
    for a in raw["agents"]:
        a = _ordered(a, orders["agent"])
        fts = a["failure_types"]
        a["failure_types"] = {k: fts[k] for k in ft_order[a["agent_id"]]}
        assert a["failure_types"] == fts
        agents.append(a)

    runs = {aid: [_ordered(r, orders["run"]) for r in rs] for aid, rs in raw["runs"].items()}
    signals = {aid: [_ordered(s, orders["signal"]) for s in ss] for aid, ss in raw["signals"].items()}
    details = {}
    for rid, d in raw["run_details"].items():
        d = _ordered(d, orders["run_detail"])
        d["events"] = [_ordered(e, orders["event"]) for e in d["events"]]
        d["signals"] = [_ordered(s, orders["run_signal"]) for s in d["signals"]]
        details[rid] = d

    def from_captures(key: str, suffix: str) -> dict:
        bodies = _per_agent_bodies(captures, suffix)
        out = {}
        for aid, value in raw[key].items():
            if value == {"_status": 404}:
                out[aid] = value
                continue
            if bodies.get(aid) != value:
                raise SystemExit(f"{key}[{aid}] differs from its capture")
            out[aid] = bodies[aid]
        return out

    dataset = {
        "base": raw["base"],
        "health": next(b for r, b in captures if r["path"] == "/health" and not r.get("headers")),
        "agents": agents,
        "runs": runs,
        "signals": signals,
        "run_details": details,
        "insights": from_captures("insights", "insights"),
        "health_score": from_captures("health_score", "health-score"),
        "token_stats": from_captures("token_stats", "token-stats"),
        "_processed_at": {r["run_id"]: processed_at[r["run_id"]] for rs in runs.values() for r in rs},
    }
    assert dataset["health"] == raw["health"]
    assert json.loads(json.dumps(dataset, sort_keys=True)) == {
        **raw,
        "_processed_at": dataset["_processed_at"],
    }
    return dataset


def estimate_processed_at(src_root: Path) -> dict[str, float]:
    """processed_at per run: exact where the captures pin it, else estimated."""
    latest = _load(src_root / "real-api-latest" / "dataset.json")
    march = _load(src_root / "real-api" / "dataset.json")
    runs = latest["runs"]
    known: dict[str, float] = {}
    for ss in latest["signals"].values():
        for s in ss:
            known[s["run_id"]] = s["detected_at"]
    for aid, ins in latest["insights"].items():
        for v in ins["versions"]:
            vr = [r["run_id"] for r in runs[aid] if r["agent_version"] == v["agent_version"]]
            for rid, ts in ((vr[0], v["last_seen"]), (vr[-1], v["first_seen"])):
                assert known.get(rid, ts) == ts
                known[rid] = ts
    for ss in march["signals"].values():
        for s in ss:
            # March wrote the signal a fraction of a millisecond before the run row.
            known.setdefault(s["run_id"], s["detected_at"] + 0.0004)

    # Global order of the newest runs, from the captured org-wide lists.
    cap = src_root / "real-api-latest"
    top = [r["run_id"] for r in _load(cap / "GET_v1_runs.json")["runs"]]
    values = _interpolate(top, known)
    floor = values[top[-1]]

    for rs in runs.values():
        seq = [r["run_id"] for r in rs]
        fixed = {rid: values.get(rid, known.get(rid)) for rid in seq}
        # Runs beyond the captured top 50 are older than all of it.
        for rid in seq:
            if rid not in values and fixed[rid] is not None and fixed[rid] >= floor:
                raise SystemExit(f"anchor {rid} contradicts the captured top-50")
        hint = {r["run_id"]: (r["completed_at"] or r["started_at"] or 0.0) + 2.5 for r in rs}
        values.update(_fill_agent(seq, fixed, hint, ceiling=floor))

    for rs in runs.values():
        seq = [values[r["run_id"]] for r in rs]
        assert all(a > b for a, b in zip(seq, seq[1:])), "per-agent order broken"
    ordered = sorted(values, key=lambda rid: -values[rid])
    assert ordered[: len(top)] == top
    return {rid: round(values[rid], 6) for rid in values}


def _interpolate(seq: list[str], known: dict[str, float]) -> dict[str, float]:
    """Values for a descending sequence: anchors kept, gaps filled linearly."""
    idx = [i for i, rid in enumerate(seq) if rid in known]
    out = {seq[i]: known[seq[i]] for i in idx}
    vals = [known[seq[i]] for i in idx]
    assert all(a > b for a, b in zip(vals, vals[1:])), "captured order contradicts anchors"
    for i, rid in enumerate(seq):
        if rid in out:
            continue
        hi = max((j for j in idx if j < i), default=None)
        lo = min((j for j in idx if j > i), default=None)
        if hi is not None and lo is not None:
            frac = (i - hi) / (lo - hi)
            out[rid] = known[seq[hi]] + (known[seq[lo]] - known[seq[hi]]) * frac
        elif hi is not None:
            out[rid] = known[seq[hi]] - 0.001 * (i - hi)
        else:
            out[rid] = known[seq[lo]] + 0.001 * (lo - i)
    return out


def _fill_agent(seq: list[str], fixed: dict, hint: dict, ceiling: float) -> dict[str, float]:
    """Fill unknown values of one agent's descending sequence between anchors."""
    out = {rid: v for rid, v in fixed.items() if v is not None}
    i = 0
    while i < len(seq):
        if seq[i] in out:
            i += 1
            continue
        j = i
        while j < len(seq) and seq[j] not in out:
            j += 1
        hi = out[seq[i - 1]] if i > 0 else ceiling
        lo = out[seq[j]] if j < len(seq) else None
        gap = seq[i:j]
        guesses = [hint[r] for r in gap]
        ok = all(a > b for a, b in zip(guesses, guesses[1:])) and guesses[0] < hi
        if lo is not None:
            ok = ok and guesses[-1] > lo
        if not ok:
            lo_v = lo if lo is not None else min(hi, guesses[-1]) - 5.0 * len(gap)
            step = (hi - lo_v) / (len(gap) + 1)
            guesses = [hi - step * (k + 1) for k in range(len(gap))]
        out.update(zip(gap, guesses))
        i = j
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, required=True, help="shared/fixtures directory")
    args = parser.parse_args()
    processed_at = estimate_processed_at(args.src)
    for gen in GENERATIONS:
        src = args.src / gen
        out = DATA_DIR / gen
        cap_dir = out / "captures"
        if cap_dir.exists():
            shutil.rmtree(cap_dir)
        cap_dir.mkdir(parents=True)
        for f in sorted(src.iterdir()):
            if f.name != "dataset.json":
                shutil.copyfile(f, cap_dir / f.name)
        dataset = build_dataset(src, processed_at)
        text = json.dumps(dataset, indent=1, ensure_ascii=False) + "\n"
        (out / "dataset.json").write_text(text, encoding="utf-8")
        print(f"{gen}: {len(list(cap_dir.iterdir()))} capture files, dataset {len(text)} chars")


if __name__ == "__main__":
    main()
