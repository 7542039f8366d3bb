"""The intake log of `local serve`: records replayed in order, a torn or damaged tail dropped, emptied only
when every batch in it is written, private, and no torn record left by a failed append."""

from __future__ import annotations

import resource
import signal
import stat
from pathlib import Path

import pytest

from dunetrace_cli.local import intake as intake_mod
from dunetrace_cli.local.intake import IntakeLog, intake_path, records


def _bodies(path: Path) -> list[bytes]:
    replayed = IntakeLog(path)  # what the next server replays ...
    try:
        bodies = list(replayed.replay())
    finally:
        replayed.close()
    assert records(path) == bodies  # ... and what a reader sees
    return bodies


def test_records_come_back_in_order_and_the_file_is_private(tmp_path: Path) -> None:
    path = intake_path(tmp_path / "s.db")
    assert path.name == "s.db-intake"
    log = IntakeLog(path)
    bodies = [b'{"events": [1]}', b"", b'{"a":\n"line\\nbreak"}' * 1000]
    for b in bodies:
        log.append(b)
    log.close()
    assert _bodies(path) == bodies
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_torn_or_damaged_tail_ends_the_replay(tmp_path: Path) -> None:
    path = tmp_path / "i"
    log = IntakeLog(path)
    log.append(b"first")
    log.append(b"second")
    log.close()
    whole = path.read_bytes()
    path.write_bytes(whole[:-3])  # cut short by a crash mid-write
    assert _bodies(path) == [b"first"]
    path.write_bytes(whole[:-1] + b"X")  # damaged
    assert _bodies(path) == [b"first"]
    path.write_bytes(whole[:5])  # not even a header
    assert _bodies(path) == []


def test_emptied_only_when_every_batch_in_it_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(intake_mod, "TRUNCATE_BYTES", 10)
    path = tmp_path / "i"
    log = IntakeLog(path)
    log.append(b"a" * 20)
    log.append(b"b" * 20)
    log.committed(1)  # one of two written: kept
    assert path.stat().st_size > 0
    log.committed(1)
    assert path.stat().st_size == 0
    log.append(b"c")  # small: kept until the server stops
    log.committed(1)
    assert path.stat().st_size > 0
    log.clear_if_written()
    assert path.stat().st_size == 0
    log.close()


def test_an_earlier_servers_batches_are_kept_until_replayed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(intake_mod, "TRUNCATE_BYTES", 0)
    path = tmp_path / "i"
    old = IntakeLog(path)
    old.append(b"left behind")
    old.close()
    log = IntakeLog(path)
    log.append(b"new")
    log.committed(1)  # this server's batch is written, the earlier one not yet
    log.clear_if_written()
    assert records(path) == [b"left behind", b"new"]
    log.clear()  # replayed
    assert path.stat().st_size == 0
    log.append(b"next")
    log.committed(1)
    assert path.stat().st_size == 0
    log.close()


def test_a_failed_append_raises_and_leaves_no_torn_record(tmp_path: Path) -> None:
    path = tmp_path / "i"
    log = IntakeLog(path)
    log.append(b"kept")
    size = path.stat().st_size
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    old = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past the limit, write() fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (size + 100, hard))
    try:
        with pytest.raises(OSError):
            log.append(b"x" * 1000)  # the first 100 bytes fit, the rest do not
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old)
    assert path.stat().st_size == size
    log.append(b"after")
    log.close()
    assert _bodies(path) == [b"kept", b"after"]


def test_one_process_at_a_time_holds_the_log(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "i"
    log = IntakeLog(path)
    try:
        probe = (
            "import sys; from pathlib import Path; from dunetrace_cli.local.intake import IntakeLog, IntakeInUse\n"
            "try:\n    IntakeLog(Path(sys.argv[1]))\nexcept IntakeInUse:\n    print('in use')\nelse:\n    print('free')"
        )
        held = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, check=True)
        assert held.stdout.strip() == "in use"
    finally:
        log.close()
    free = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, check=True)
    assert free.stdout.strip() == "free"


def test_a_second_local_serve_on_the_same_store_is_refused_with_a_sentence(tmp_path: Path) -> None:
    from dunetrace_cli.errors import UsageError
    from dunetrace_cli.local.server import serve

    db = tmp_path / "s.db"
    first = IntakeLog(intake_path(db))  # what the running server holds
    try:
        with pytest.raises(UsageError) as caught:
            serve(db, ingest_port=0, api_port=0)
    finally:
        first.close()
    assert caught.value.message == (
        f"Another `dunetrace local serve` is using the store at {db}; stop it, or pass --db with another path."
    )
    assert caught.value.exit_code == 2


def test_a_busy_port_leaves_the_store_free_for_the_next_serve(tmp_path: Path) -> None:
    import socket

    from dunetrace_cli.errors import UsageError
    from dunetrace_cli.local.server import serve

    db = tmp_path / "s.db"
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        with pytest.raises(UsageError, match="Cannot listen on"):
            serve(db, ingest_port=busy.getsockname()[1], api_port=0)
    finally:
        busy.close()
    IntakeLog(intake_path(db)).close()  # not held by the failed serve
