"""Shared bits for the bench scripts: run from the repo root (`python bench/<script>.py`)."""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 1)


def print_table(title: str, header: list[str], rows: list[list[object]]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    print(f"\n{title}")
    print("  ".join(str(h).ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))


def baseline_tree(rev: str) -> Path:
    """The package tree of git revision ``rev`` (``git archive``), extracted once under /tmp.

    Put it first on PYTHONPATH to run that revision's code next to this checkout's, in one run.
    """
    import subprocess
    import tempfile

    sha = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=12", rev], check=True,
                         capture_output=True, text=True).stdout.strip()
    target = Path(tempfile.gettempdir()) / f"dunetrace-cli-baseline-{sha}"
    if not (target / "dunetrace_cli" / "__init__.py").exists():
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", sha, "dunetrace_cli"], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target
