"""Run the fake Customer API by hand: ``python -m tests.fakeapi --port 8002``."""

from __future__ import annotations

import argparse
import sys
import threading

from . import FakeApi, serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fakeapi", description=__doc__)
    parser.add_argument("--generation", choices=("march", "latest"), default="latest")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--api-key", default=None, help="require this key (default: dev mode, no auth)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds slept per request")
    parser.add_argument("--extra-agents", type=int, default=0, help="synthetic agents to add")
    args = parser.parse_args(argv)
    fake = FakeApi(
        args.generation, api_key=args.api_key, latency=args.latency, extra_agents=args.extra_agents
    )
    with serve(fake, host=args.host, port=args.port) as url:
        print(f"fake Dunetrace Customer API ({args.generation}) on {url}", file=sys.stderr, flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
