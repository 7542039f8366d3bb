"""The fault matrix, re-run as a user meets it: `dunetrace --timeout T agents` as a subprocess per mode.

Each mode of ``tests/faultserver.py`` (drip, hang, truncated body, 50 MB body, 302 to another host, 429 with
Retry-After seconds/date/3600, 401...503, invalid JSON, HTML, not HTTP, connection refused, TLS to a plain
port) is run once; the table shows the exit code, the wall time next to the budget (``--timeout`` + 1 s,
process start included, so the start-up time is printed too) and the start of the one sentence. The URL
carries a password and the environment a key: the last column says whether either leaked.

    python bench/faults.py [--timeout 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.faultserver import fault_server, refused_url  # noqa: E402
from tests.test_faults import MATRIX  # noqa: E402

KEY = "dt_live_BENCHFAULTKEY000042"
PASSWORD = "pw-BENCH-FAULTS-42"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timeout", type=float, default=3.0)
    args = parser.parse_args()
    exe = [sys.executable, "-m", "dunetrace_cli"]
    env = {**os.environ, "DUNETRACE_API_KEY": KEY, "NO_COLOR": "1"}
    env.pop("DUNETRACE_API_URL", None)

    with fault_server() as srv:
        srv.redirect_to = f"http://localhost:{srv.port}/steal/v1/agents"
        refused = refused_url()
        # the baseline: start-up plus one good request, the median of 3 (an answering server, exit 0)
        runs = []
        for _ in range(3):
            began = time.monotonic()
            subprocess.run([*exe, "--api-url", srv.url("ok"), "agents", "--json"], capture_output=True, env=env, check=True)
            runs.append(time.monotonic() - began)
        base = sorted(runs)[1]
        print(f"dunetrace --timeout {args.timeout:g} agents, one subprocess per mode. Budget: {args.timeout + 1:g} s "
              f"after start-up; start-up + one good request (baseline) = {base:.2f} s\n")
        print("| mode | exit | wall s | minus baseline | within budget | key/password/traceback leaked | sentence |")
        print("|---|---|---|---|---|---|---|")
        for mode, (expected_code, _) in MATRIX.items():
            if mode == "refused":
                url = refused
            elif mode == "tls":
                url = srv.url("ok").replace("http://", "https://")
            else:
                url = srv.url(mode, userinfo=f"ops:{PASSWORD}")
            began = time.monotonic()
            proc = subprocess.run(
                [*exe, "--timeout", str(args.timeout), "--api-url", url, "agents"], capture_output=True, text=True, env=env
            )
            took = time.monotonic() - began
            text = proc.stdout + proc.stderr
            leaked = "yes" if (KEY in text or PASSWORD in text or "Traceback" in text) else "no"
            sentence = proc.stderr.strip().removeprefix("dunetrace: error: ")[:90].replace("|", "\\|")
            code = f"{proc.returncode}" + ("" if proc.returncode == expected_code else f" (expected {expected_code})")
            ok = "yes" if took - base <= args.timeout + 1 else "no"
            print(f"| {mode} | {code} | {took:.2f} | {took - base:.2f} | {ok} | {leaked} | {sentence} |")
        stolen = [line for line, _ in srv.requests if "/steal" in line]
    print(f"\nrequests that reached the redirect target: {len(stolen)}")


if __name__ == "__main__":
    main()
