"""Reading events: formats, defaults, following a growing file, and one located error per bad line."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from textsift.errors import DataError
from textsift.monitor.stream import events, parse


def test_iso_and_epoch_timestamps_read_as_the_same_utc_second() -> None:
    a = parse({"text": "x", "ts": "2026-12-01T09:30:00Z"}, "f", 1, "s")
    b = parse({"text": "x", "ts": "2026-12-01T10:30:00+01:00"}, "f", 1, "s")
    c = parse({"text": "x", "ts": 1796117400}, "f", 1, "s")
    d = parse({"text": "x", "ts": "2026-12-01T09:30:00"}, "f", 1, "s")  # naive means UTC
    assert a.ts == b.ts == c.ts == d.ts == 1796117400.0


def test_an_event_without_id_gets_the_same_id_every_time_it_is_read() -> None:
    row = {"text": "rates rise", "ts": 1796117400, "source": "wire"}
    assert parse(row, "f", 1, "s").id == parse(dict(row), "g", 9, "s").id
    assert parse(row, "f", 1, "s").id != parse(row | {"text": "rates fall"}, "f", 1, "s").id


def test_the_default_source_applies_only_to_events_without_one() -> None:
    assert parse({"text": "x"}, "f", 1, "default").source == "default"
    assert parse({"text": "x", "source": "wire"}, "f", 1, "default").source == "wire"


@pytest.mark.parametrize(("line", "says"), [
    ('{"text": ""}', "no text"),
    ('{"ts": 5}', "no text"),
    ('{"text": "x", "ts": "yesterday"}', "neither seconds"),
    ('{"text": "x", "id": [1]}', "not a string"),
    ("[1, 2]", "not a JSON object"),
    ("{oops", "not valid JSON"),
])
def test_a_bad_line_stops_the_read_naming_file_and_line(tmp_path: Path, line: str, says: str) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text('{"text": "fine"}\n\n' + line + "\n")
    with pytest.raises(DataError, match=f"e.jsonl:3: .*{says}"):
        list(events(path, source="s"))


def test_csv_events_read_with_their_columns(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text('id,ts,source,text\n7,1796117400,wire,"rates, again"\n')
    [event] = list(events(path, source="s"))
    assert (event.id, event.ts, event.source, event.text) == ("7", 1796117400.0, "wire", "rates, again")


def test_following_a_csv_is_refused_with_the_fix(tmp_path: Path) -> None:
    (tmp_path / "e.csv").write_text("text\nx\n")
    with pytest.raises(DataError, match="write the stream as .jsonl"):
        list(events(tmp_path / "e.csv", source="s", follow=True))


def test_follow_reads_lines_appended_later_and_waits_for_a_half_written_one(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text(json.dumps({"id": "1", "text": "first"}) + "\n")
    stop = threading.Event()

    def append() -> None:
        time.sleep(0.2)
        with path.open("a") as f:
            f.write('{"id": "2", "te')
            f.flush()
            time.sleep(0.2)
            f.write('xt": "second"}\n')
        time.sleep(0.2)
        stop.set()

    writer = threading.Thread(target=append)
    writer.start()
    seen = [e.id for e in events(path, source="s", follow=True, poll_s=0.05, stop=stop.is_set) if e is not None]
    writer.join()
    assert seen == ["1", "2"]
