"""Local store at 100k, 300k and 1M events: floor and ingest of this checkout next to a baseline's, one run.

For each size one JSONL file (bench/_gen_events.py) goes through, alternately for the baseline revision
(``git archive REV`` under /tmp, first on PYTHONPATH, its own schema and write settings) and this checkout:

* **floor**: ``bench/local_ingest.py``'s plain parse + insert into the revision's own ``events`` table,
  indexes and ``load.bulk_writes`` settings;
* **ingest**: ``dunetrace local ingest FILE --json`` with detection, as a user runs it.

Printed per size and revision: events/s (wall), CPU seconds (floor; importer / detection process), MiB the
writing process wrote (WAL appends and checkpoints: what a store's size grows), peak RSS. On a shared
machine compare the CPU and MiB columns; wall rates follow the load (print it next to the table).

Run from the repo root: ``python bench/local_scale.py --baseline REV`` (about 15 minutes on 2 cores;
``--sizes 100000,300000`` for less; ``--keep DIR`` keeps this checkout's largest store for
``bench/local_ingest.py --reads DIR/1000000-ingest-this checkout.db``).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from _common import ROOT, baseline_tree, print_table
from _gen_events import write_jsonl
from local_ingest import CPU, PY, TREE_ENV, run_measured


def measure(label: str, tree: Path | None, src: Path, work: Path, n: int, keep: Path | None = None) -> list[object]:
    """Floor and ingest of one revision on one file: a table row."""
    env = dict(os.environ)
    cwd: Path = ROOT
    if tree is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(tree), env.get("PYTHONPATH", "")) if p)
        env[TREE_ENV] = str(tree)
        cwd = tree  # `-m dunetrace_cli` puts the working directory first on sys.path
    floor_db, ingest_db = work / f"floor-{label}.db", work / f"ingest-{label}.db"
    out, frss, _ = run_measured([PY, str(ROOT / "bench" / "local_ingest.py"), "--child-floor", str(src),
                                 str(floor_db)], 3600, cwd=cwd, env=env)  # fmt: skip
    floor = json.loads(out)
    floor_cpu, floor_mib = CPU["main"], CPU["written"]
    out, rss, _ = run_measured([PY, "-m", "dunetrace_cli", "local", "ingest", str(src), "--db", str(ingest_db),
                                "--json"], 7200, cwd=cwd, env=env)  # fmt: skip
    s = json.loads(out)
    for p in work.glob("*.db*"):
        if keep is not None and p.name.startswith(ingest_db.name):
            p.rename(keep / f"{n}-{p.name}")  # for `bench/local_ingest.py --reads`
        else:
            p.unlink()
    floor_rate, rate = floor["events"] / floor["seconds"], n / s["seconds"]
    return [
        f"{n:,}", label, f"{floor_rate:,.0f}", f"{floor_cpu:.1f}", f"{floor_mib:,.0f}", f"{rate:,.0f}",
        f"{rate / floor_rate:.2f}", f"{CPU['main']:.1f} / {CPU['helper']:.1f}", f"{CPU['written']:,.0f}",
        f"{s['signals_found']:,}", f"{frss / 1024:.0f} / {rss / 1024:.0f}", f"{os.getloadavg()[0]:.1f}",
    ]  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--baseline", required=True, metavar="REV", help="the git revision to measure next to this one")
    ap.add_argument("--sizes", default="100000,300000,1000000", help="comma-separated event counts")
    ap.add_argument("--keep", metavar="DIR", type=Path, help="keep this checkout's largest ingest store in DIR")
    args = ap.parse_args()
    tree = baseline_tree(args.baseline)
    sizes = [int(x) for x in args.sizes.split(",")]
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory(prefix="dt-bench-scale-") as tmp:
        work = Path(tmp)
        for n in sizes:
            src = write_jsonl(work / f"{n}.jsonl", n, now=time.time() - 600)
            rows.append(measure(args.baseline, tree, src, work, n))
            rows.append(measure("this checkout", None, src, work, n, args.keep if n == max(sizes) else None))
            src.unlink()
    print_table(
        f"Floor (plain parse + insert, each revision's own table, indexes and write settings) and `local ingest` "
        f"with detection, {args.baseline} next to this checkout, alternating, one run",
        ["events", "revision", "floor ev/s", "floor CPU s", "floor MiB written", "ingest ev/s", "x floor",
         "importer / detection CPU s", "ingest MiB written", "signals", "RSS MiB floor / ingest", "load 1 min"],
        rows,
    )  # fmt: skip


if __name__ == "__main__":
    main()
