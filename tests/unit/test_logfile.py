"""Docker's json-file log format: written per line, read back per stream."""

import json

from dockyard.monitor.logfile import MAX_LINE, JsonFileWriter, parse_line, read_records


def test_lines_are_docker_json(tmp_path):
    p = tmp_path / "c-json.log"
    w = JsonFileWriter(str(p))
    w.feed("stdout", b"hi there\nsecond")
    w.feed("stderr", b"oops\n")
    w.feed("stdout", b" line\n")
    w.close()
    lines = p.read_text().splitlines()
    docs = [json.loads(l) for l in lines]
    assert [(d["stream"], d["log"]) for d in docs] == [
        ("stdout", "hi there\n"), ("stderr", "oops\n"), ("stdout", "second line\n")]
    assert all(d["time"].endswith("Z") and len(d["time"]) == 30 for d in docs)
    assert list(lines[0].split('"')[1::2][:1]) == ["log"]  # key order: log, stream, time


def test_last_line_without_newline_is_kept(tmp_path):
    p = tmp_path / "c-json.log"
    w = JsonFileWriter(str(p))
    w.feed("stdout", b"no newline")
    w.close()
    assert [r[1] for r in read_records(str(p))] == ["no newline"]


def test_long_lines_are_split(tmp_path):
    p = tmp_path / "c-json.log"
    w = JsonFileWriter(str(p))
    w.feed("stdout", b"x" * (MAX_LINE * 2 + 10) + b"\n")
    w.close()
    parts = [r[1] for r in read_records(str(p))]
    assert "".join(parts) == "x" * (MAX_LINE * 2 + 10) + "\n"
    assert len(parts) == 3


def test_invalid_utf8_and_control_characters(tmp_path):
    p = tmp_path / "c-json.log"
    w = JsonFileWriter(str(p))
    w.feed("stdout", b"\xff\x00\t\"q\"\n")
    w.close()
    (rec,) = read_records(str(p))
    assert rec[1] == "\ufffd\x00\t\"q\"\n"


def test_reader_skips_an_incomplete_last_record(tmp_path):
    p = tmp_path / "c-json.log"
    p.write_text('{"log":"a\\n","stream":"stdout","time":"2026-01-01T00:00:00.000000000Z"}\n{"log":"b')
    assert [r[1] for r in read_records(str(p))] == ["a\n"]


def test_parse_line_accepts_docker_written_records():
    line = '{"stream":"stderr","log":"x\\n","time":"2026-01-01T00:00:00.5Z"}\n'
    assert parse_line(line) == ("stderr", "x\n", "2026-01-01T00:00:00.5Z")
