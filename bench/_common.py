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


class FakeProcess:
    """A loopback fake Customer API in its own process (it does not share the GIL with a load generator).

    ``url`` is its address, ``data`` the dataset it serves, ``request_count()`` / ``clear()`` read and
    reset its request log. Use as a context manager.
    """

    def __init__(self, generation: str = "latest", **kwargs: object) -> None:
        import multiprocessing

        self._ctx = multiprocessing.get_context("fork")
        self._conn, child = self._ctx.Pipe()
        self._proc = self._ctx.Process(target=_fake_main, args=(child, generation, kwargs), daemon=True)
        self.generation, self.kwargs = generation, kwargs
        self.url = ""
        self.data: dict = {}

    def __enter__(self) -> FakeProcess:
        from tests.fakeapi import FakeApi

        self.data = FakeApi(self.generation, **self.kwargs).data  # type: ignore[arg-type]
        self._proc.start()
        self.url = self._conn.recv()
        return self

    def request_count(self) -> int:
        self._conn.send("count")
        return int(self._conn.recv())

    def clear(self) -> None:
        self._conn.send("clear")
        self._conn.recv()

    def __exit__(self, *exc: object) -> None:
        self._conn.send("stop")
        self._proc.join(timeout=10)
        if self._proc.is_alive():
            self._proc.terminate()


def _fake_main(conn, generation: str, kwargs: dict) -> None:  # type: ignore[no-untyped-def]
    from tests.fakeapi import FakeApi, serve

    fake = FakeApi(generation, **kwargs)  # type: ignore[arg-type]
    with serve(fake) as url:
        conn.send(url)
        while True:
            command = conn.recv()
            if command == "count":
                conn.send(len(fake.requests))
            elif command == "clear":
                fake.requests.clear()
                conn.send(0)
            else:
                return
