"""`local ingest`'s detection process writes its own results when the importer hands it the store
(dunetrace_cli/local/detect_write.py): the store is the one a single process gives, also while the importer
parses ahead, and when the child's write fails before or after its commit (the importer writes them then)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dunetrace_cli.local import detect_proc, load
from tests.local.test_detect_proc import _clones, _file, _ingest, _state

pytestmark = pytest.mark.slow


def _same_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, Any], dict[str, Any]]:
    src = _file(tmp_path / "all.jsonl", [e for c in _clones() for e in c])
    one = _ingest(tmp_path / "one.db", [src], proc=False)
    poll = load.StreamDetector._poll

    def waiting_poll(self: Any, *, block: bool) -> None:
        poll(self, block=True)  # every result back before the batch ends: each batch has some to write

    monkeypatch.setattr(load, "RECORD_EVERY", 5)
    monkeypatch.setattr(load.StreamDetector, "_poll", waiting_poll)
    two = _ingest(tmp_path / "two.db", [src], proc=True, commit_every=200)
    want, got = _state(tmp_path / "one.db"), _state(tmp_path / "two.db")
    for key in ("signals", "runs", "metrics"):
        assert got[key] == want[key], (key, set(got[key]) ^ set(want[key]))
    assert two["runs_pending"] == 0
    return one, two


def test_the_child_writes_its_results_and_the_importer_parses_ahead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers: list[int] = []
    ahead: list[int] = []
    written, write_done = detect_proc.DetectionProcess.written, detect_proc.DetectionProcess.write_done

    def counted(self: detect_proc.DetectionProcess) -> list[Any] | None:
        dets = written(self)
        answers.append(-1 if dets is None else len(dets))
        return dets

    def slow_child(self: detect_proc.DetectionProcess) -> bool:
        done = write_done(self)
        if self._writing and len(ahead) < 40:  # as if the child were still writing: the importer parses on
            ahead.append(1)
            return False
        return done

    monkeypatch.setattr(detect_proc.DetectionProcess, "written", counted)
    monkeypatch.setattr(detect_proc.DetectionProcess, "write_done", slow_child)
    monkeypatch.setattr(load, "PARSE_AHEAD", 3)
    one, two = _same_store(tmp_path, monkeypatch)
    assert len([n for n in answers if n > 0]) >= 3 and -1 not in answers  # the child wrote, several times
    assert len(ahead) >= 6  # batches parsed while the child wrote
    assert {k: v for k, v in two.items() if k not in ("db", "seconds")} == {
        k: v for k, v in one.items() if k not in ("db", "seconds")
    }


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_child_that_fails_to_write_leaves_them_to_the_importer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    """``before``: the child never writes (told to forget them instead); ``after``: it wrote them, but its
    answer is lost. Either way the importer writes what is not analysed yet, in its place."""
    recorded: list[int] = []
    release, written, record = (detect_proc.DetectionProcess.release, detect_proc.DetectionProcess.written,
                                load.StreamDetector._record)  # fmt: skip

    def no_write(self: detect_proc.DetectionProcess, *, write: bool, stall_seconds: float = 0.0) -> bool:
        return release(self, write=False)  # the child forgets them, and the importer is told it wrote nothing

    def lost_answer(self: detect_proc.DetectionProcess) -> list[Any] | None:
        written(self)
        return None

    def counted(self: Any, results: list[Any], **kw: Any) -> None:
        recorded.append(len(results))
        record(self, results, **kw)

    if when == "before":
        monkeypatch.setattr(detect_proc.DetectionProcess, "release", no_write)
        monkeypatch.setattr(detect_proc.DetectionProcess, "written", lambda self: None)
    else:
        monkeypatch.setattr(detect_proc.DetectionProcess, "written", lost_answer)
    monkeypatch.setattr(load.StreamDetector, "_record", counted)
    one, two = _same_store(tmp_path, monkeypatch)
    assert len(recorded) >= 3
    if when == "before":
        assert two["signals_found"] == one["signals_found"] > 0
