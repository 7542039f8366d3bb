"""`local ingest`'s detection CPU, this checkout next to a baseline revision, side by side (issue 11).

For each size one JSONL file (bench/_gen_events.py) goes through, ``--rounds`` times: the floor
(``bench/local_ingest.py``'s plain parse + insert, this checkout), then ``dunetrace local ingest FILE --json``
of the baseline (``git archive REV`` under /tmp, first on PYTHONPATH) and of this checkout, alternately.
Each ingest runs under a small driver that measures, without changing what runs:

* **detection process**: its CPU seconds (``os.times`` inside it, from its start to its end);
* **importer's detection**: the importer's CPU seconds in ``StreamDetector.written`` / ``finish`` and the
  final sweep (picking due runs, their rows and events for the pipe, writing the results back);
* **tail**: wall seconds from the last line read to the end (``finish`` and the final sweep);
* **signals**: a hash of the stored signals, runs' detection columns and baseline figures, which must be
  equal between the revisions.

On a shared machine wall times follow the load; compare the CPU columns (printed with the load average).
Run from the repo root: ``python bench/local_detect.py --baseline REV`` (``--sizes 100000,300000``,
``--rounds 2``: about 10 minutes on 2 cores; ``--quick``: 100k, one round).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import ROOT, baseline_tree, print_table
from _gen_events import write_jsonl

PY = sys.executable

# Run inside the measured process: wraps the detection entry points, then runs the CLI as a user does.
_DRIVER = r'''
import hashlib, json, os, resource, sqlite3, sys, time
out, argv = sys.argv[1], sys.argv[2:]
import dunetrace_cli.local.detect_proc as dp
import dunetrace_cli.local.load as ld
import dunetrace_cli.local.streaming as st
cpu = {"importer": 0.0}
wall = {"tail": 0.0}
child = dp._child
def _child(db, tasks, results):  # forked: runs in the detection process
    t0 = os.times()
    try:
        child(db, tasks, results)
    finally:
        t = os.times()
        with open(out + ".child", "w") as fh:
            fh.write(str(t.user - t0.user + t.system - t0.system))
dp._child = _child
def timed(owner, name, tail=False):
    f = getattr(owner, name)
    def g(*a, **k):
        c, w = time.process_time(), time.perf_counter()
        try:
            return f(*a, **k)
        finally:
            cpu["importer"] += time.process_time() - c
            if tail:
                wall["tail"] += time.perf_counter() - w
    setattr(owner, name, g)
timed(st.StreamDetector, "written")
timed(st.StreamDetector, "finish", tail=True)
timed(ld.detect, "sweep", tail=True)
from dunetrace_cli.__main__ import main
sys.argv = ["dunetrace", *argv]
start = time.perf_counter()
try:
    main()
except SystemExit:
    pass
ru = resource.getrusage(resource.RUSAGE_SELF)
db = argv[argv.index("--db") + 1]
conn = sqlite3.connect(db)
h = hashlib.sha256()
for sql in (
    "SELECT failure_type, run_id, severity, confidence, evidence, shadow, co_signal_count, detector_severity, "
    "detector_confidence, step_index FROM signals ORDER BY run_id, failure_type",
    "SELECT run_id, trigger, processed_at, signal_count, baseline_key, processed_event_count, needs_reeval, "
    "needs_detection FROM runs ORDER BY run_id",
    "SELECT * FROM run_metrics ORDER BY run_id",
):
    for row in conn.execute(sql):
        h.update(repr(row).encode())
signals = conn.execute("SELECT COUNT(*) FROM signals WHERE shadow = 0").fetchone()[0]
child_cpu = float(open(out + ".child").read()) if os.path.exists(out + ".child") else 0.0
with open(out, "w") as fh:
    json.dump({"importer_cpu": ru.ru_utime + ru.ru_stime, "importer_detect_cpu": cpu["importer"],
               "child_cpu": child_cpu, "tail_s": wall["tail"], "wall_s": time.perf_counter() - start,
               "signals": signals, "hash": h.hexdigest()[:16]}, fh)
'''


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def floor_cpu(src: Path, work: Path) -> float:
    db = work / "floor.db"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([PY, str(ROOT / "bench" / "local_ingest.py"), "--child-floor", str(src), str(db)], check=True,
                   stdout=subprocess.DEVNULL, cwd=ROOT)  # fmt: skip
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    for p in work.glob("floor.db*"):
        p.unlink()
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def ingest(tree: Path | None, src: Path, work: Path, label: str) -> dict[str, float]:
    db, out = work / f"{label}.db", work / f"{label}.json"
    driver = work / "driver.py"
    driver.write_text(_DRIVER)
    env = dict(os.environ)
    cwd = ROOT
    if tree is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(tree), env.get("PYTHONPATH", "")) if p)
        cwd = tree
    for p in [*work.glob(f"{label}.db*"), out, Path(f"{out}.child")]:
        p.unlink(missing_ok=True)
    subprocess.run([PY, str(driver), str(out), "local", "ingest", str(src), "--db", str(db), "--json"], check=True,
                   stdout=subprocess.DEVNULL, cwd=cwd, env=env)  # fmt: skip
    result: dict[str, float] = json.loads(out.read_text())
    for p in work.glob(f"{label}.db*"):
        p.unlink()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--baseline", required=True, help="git revision to compare with")
    ap.add_argument("--sizes", default="100000,300000")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="100k events, one round")
    args = ap.parse_args()
    if args.quick:
        args.sizes, args.rounds = "100000", 1
    tree = baseline_tree(args.baseline)
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory(prefix="dt-detect-") as tmp:
        work = Path(tmp)
        for n in (int(s) for s in args.sizes.split(",")):
            src = write_jsonl(work / f"{n}.jsonl", n)
            for r in range(1, args.rounds + 1):
                load = _load()
                floor = floor_cpu(src, work)
                got = {label: ingest(t, src, work, label) for label, t in ((args.baseline, tree), ("this checkout", None))}
                same = len({g["hash"] for g in got.values()}) == 1
                for label, g in got.items():
                    total = g["child_cpu"] + g["importer_detect_cpu"]
                    rows.append([f"{n:,}", r, label, load, f"{floor:.2f}", f"{g['child_cpu']:.2f}",
                                 f"{g['child_cpu'] / floor:.2f}", f"{g['importer_detect_cpu']:.2f}", f"{total:.2f}",
                                 f"{g['importer_cpu']:.2f}", f"{g['tail_s']:.2f}", g["signals"],
                                 "yes" if same else "NO"])  # fmt: skip
                print_table("detection CPU, side by side", HEADER, rows[-2:])
                sys.stdout.flush()
            src.unlink()
    print_table("detection CPU, side by side (all rounds)", HEADER, rows)


HEADER = ["events", "round", "revision", "load 1/5/15", "floor CPU s", "detection process CPU s", "x floor",
          "importer's detection CPU s", "detection CPU s", "importer CPU s", "tail s", "live signals",
          "same store"]  # fmt: skip

if __name__ == "__main__":
    main()
