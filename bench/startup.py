"""Startup time: `dunetrace --help` and `dunetrace agents --json` against a loopback fake.

Median of 10 runs each, next to `python -c "import httpx"` as the floor. Prints figures;
asserts nothing (timings belong here, never in tests).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time

from _common import median_ms, print_table

from tests.fakeapi import FakeApi, serve

RUNS = 10


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> None:
    argparse.ArgumentParser(description=__doc__.split("\n")[0]).parse_args()  # --help; no options
    exe = shutil.which("dunetrace") or os.path.join(os.path.dirname(sys.executable), "dunetrace")
    with serve(FakeApi("latest")) as url:
        env = {**os.environ, "DUNETRACE_API_URL": url}
        cases = [
            ("python -c 'import httpx' (floor)", [sys.executable, "-c", "import httpx"]),
            ("python -c 'import dunetrace_cli.cli.app'", [sys.executable, "-c", "import dunetrace_cli.cli.app"]),
            ("dunetrace --help", [exe, "--help"]),
            ("dunetrace agents --json", [exe, "agents", "--json"]),
        ]
        rows = []
        for label, cmd in cases:
            timed(cmd, env)  # warm the page cache
            samples = [timed(cmd, env) for _ in range(RUNS)]
            rows.append([label, median_ms(samples), round(min(samples) * 1000, 1)])
    print_table(f"Startup, median of {RUNS} (ms)", ["command", "median ms", "min ms"], rows)


if __name__ == "__main__":
    main()
