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


# ---- rotation -------------------------------------------------------------------

import os

import pytest

from dockyard.monitor.logfile import (NullLog, LogCursor, Window, open_log, records_of,
                                      select_records, time_key)


def _numbers(path):
    return [int(t) for _, t, _ in read_records(str(path))]


def test_rotation_keeps_files_under_max_size_and_reads_in_order(tmp_path):
    p = tmp_path / "c-json.log"
    w = JsonFileWriter(str(p), max_size=2000, max_file=100)
    for i in range(1000):
        w.feed("stdout", b"%d\n" % i)
    w.close()
    names = sorted(os.listdir(tmp_path))
    assert len(names) > 10 and "c-json.log.1" in names
    assert all(os.path.getsize(tmp_path / n) <= 2000 for n in names)
    assert _numbers(p) == list(range(1000))


def test_max_file_keeps_only_the_newest(tmp_path):
    p = tmp_path / "c-json.log"
    w = JsonFileWriter(str(p), max_size=2000, max_file=3)
    for i in range(1000):
        w.feed("stdout", b"%d\n" % i)
    w.close()
    assert sorted(os.listdir(tmp_path)) == ["c-json.log", "c-json.log.1", "c-json.log.2"]
    got = _numbers(p)
    assert got[-1] == 999 and got == list(range(got[0], 1000)) and len(got) < 100


def test_max_file_one_truncates(tmp_path):
    p = tmp_path / "c-json.log"
    w = JsonFileWriter(str(p), max_size=1000, max_file=1)
    for i in range(200):
        w.feed("stdout", b"%d\n" % i)
    w.close()
    assert os.listdir(tmp_path) == ["c-json.log"]
    got = _numbers(p)
    assert got[-1] == 199 and got == list(range(got[0], 200)) and os.path.getsize(p) <= 1000


def test_big_batches_are_split_across_files(tmp_path):
    p = tmp_path / "c-json.log"
    w = JsonFileWriter(str(p), max_size=4096, max_file=1000)
    w.feed("stdout", b"".join(b"%d\n" % i for i in range(5000)))  # one write, many files
    w.feed("stdout", b"y" * 10000 + b"\n")  # one record bigger than max-size: a file of its own
    w.close()
    sizes = [os.path.getsize(tmp_path / n) for n in os.listdir(tmp_path)]
    assert sum(1 for s in sizes if s > 4096) == 1
    recs = [t for _, t, _ in read_records(str(p))]
    assert recs[-1] == "y" * 10000 + "\n" and [int(t) for t in recs[:-1]] == list(range(5000))


def test_handover_keeps_rotating(tmp_path):
    p = tmp_path / "c-json.log"
    w = JsonFileWriter(str(p), max_size=500, max_file=50)
    w.feed("stdout", b"".join(b"%d\n" % i for i in range(20)) + b"par")
    fd, partial, options = w.handover()
    w2 = JsonFileWriter.from_fd(fd, partial, options)
    w2.feed("stdout", b"tial\n" + b"".join(b"%d\n" % i for i in range(20, 100)))
    w2.close()
    recs = [t for _, t, _ in read_records(str(p))]
    assert recs == [f"{i}\n" for i in range(20)] + ["partial\n"] + [f"{i}\n" for i in range(20, 100)]
    assert all(os.path.getsize(tmp_path / n) <= 500 for n in os.listdir(tmp_path))


def test_old_style_handover_finds_its_path(tmp_path):
    p = tmp_path / "c-json.log"
    w = JsonFileWriter(str(p))
    w2 = JsonFileWriter.from_fd(w.fd, w.partial)  # (fd, partial) from a monitor before rotation
    assert w2.path == str(p)
    w2.close()


def test_open_log_follows_the_spec(tmp_path):
    p = str(tmp_path / "c-json.log")
    w = open_log(p, {"annotations": {"org.dockyard.log.max-size": "1000", "org.dockyard.log.max-file": "2"}})
    assert (w.max_size, w.max_file) == (1000, 2)
    w.close()
    w = open_log(p, {})
    assert (w.max_size, w.max_file) == (20 * 1024 * 1024, 5)  # on by default
    w.close()
    n = open_log(p + "x", {"annotations": {"org.dockyard.log.driver": "none"}})
    assert isinstance(n, NullLog)
    n.feed("stdout", b"gone\n")
    n2 = JsonFileWriter.from_fd(*n.handover())
    assert isinstance(n2, NullLog)
    n2.close()
    assert not os.path.exists(p + "x")


def test_cursor_follows_a_writer_across_rotations(tmp_path):
    """A reader interleaved with the writer sees every record once, in order, even
    when several rotations happen between two reads."""
    p = tmp_path / "c-json.log"
    w = JsonFileWriter(str(p), max_size=300, max_file=1000)
    cursor = LogCursor(str(p))
    got = []
    n = 0
    for step in range(60):
        for _ in range(step % 7 * 5):
            w.feed("stdout", b"%d\n" % n)
            n += 1
        for block in cursor.blocks():
            got += [int(t) for _, t, _ in records_of(block)]
    w.close()
    for block in cursor.blocks():
        got += [int(t) for _, t, _ in records_of(block)]
    cursor.close()
    assert got == list(range(n))


def test_cursor_waits_for_an_incomplete_record(tmp_path):
    p = tmp_path / "c-json.log"
    p.write_text('{"log":"a\\n","stream":"stdout","time":"2026-01-01T00:00:00.000000000Z"}\n{"log":"b')
    with LogCursor(str(p)) as c:
        assert [t for _, t, _ in records_of(c.read())] == ["a\n"]
        with open(p, "a") as f:
            f.write('\\n","stream":"stdout","time":"2026-01-01T00:00:00.000000000Z"}\n')
        assert [t for _, t, _ in records_of(c.read())] == ["b\n"]


def _rec(t, sec):
    return ("stdout", t, time_key(sec * 1_000_000_000))


def test_window_since_until_as_docker():
    recs = [_rec("a", 10), _rec("b", 20), _rec("c", 15), _rec("d", 30), _rec("e", 40)]
    S = 1_000_000_000
    assert [r[1] for r in Window(since=20 * S).filter(recs)] == ["b", "c", "d", "e"]  # c: after the first match
    w = Window(until=30 * S)
    assert [r[1] for r in w.filter(recs)] == ["a", "b", "c", "d"] and w.done
    assert [r[1] for r in Window(15 * S, 30 * S).filter(recs)] == ["b", "c", "d"]
    assert [r[1] for r in Window(since=20 * S).filter([("stdout", "x", "1970-01-01T00:00:25.5Z")])] == ["x"]


def test_select_records_tail_then_window(tmp_path):
    p = tmp_path / "c-json.log"
    with open(p, "w") as f:
        for i in range(10):
            f.write('{"log":"%d\\n","stream":"stdout","time":"%s"}\n' % (i, time_key((100 + i) * 10**9)))
    assert [t for _, t, _ in select_records(str(p), tail=3)] == ["7\n", "8\n", "9\n"]
    assert [t for _, t, _ in select_records(str(p), tail=3, since=108 * 10**9)] == ["8\n", "9\n"]
    assert [t for _, t, _ in select_records(str(p), since=103 * 10**9, until=104 * 10**9)] == ["3\n", "4\n"]
    assert select_records(str(p), tail=0) == []


def test_log_config_checks():
    from dockyard.errors import InvalidArgument
    from dockyard.services.options import log_config, log_limits

    assert log_config("", {}) == {"Type": "json-file", "Config": {"max-size": "20m", "max-file": "5"}}
    assert log_config("json-file", {"max-size": "10m"})["Config"] == {"max-size": "10m", "max-file": "5"}
    assert log_limits({"max-size": "10m", "max-file": "3"}) == (10 * 1024 * 1024, 3)
    assert log_limits({"max-size": "-1", "max-file": "3"}) == (-1, 3)
    assert log_config("none", {}) == {"Type": "none", "Config": {}}
    for driver, opts, msg in [("syslog", {}, "logger: no log driver named 'syslog' is registered"),
                              ("json-file", {"foo": "1"}, "unknown log opt 'foo' for json-file log driver"),
                              ("json-file", {"max-file": "0"}, "max-file cannot be less than 1"),
                              ("json-file", {"max-size": "lots"}, "invalid max-size")]:
        with pytest.raises(InvalidArgument) as e:
            log_config(driver, opts)
        assert msg in e.value.message


def test_a_large_max_file_costs_nothing_per_rotation(tmp_path):
    import time

    p = tmp_path / "c-json.log"
    w = JsonFileWriter(str(p), max_size=200, max_file=100_000)
    t = time.monotonic()
    for i in range(500):
        w.feed("stdout", b"%d\n" % i)
    w.close()
    assert time.monotonic() - t < 2
    assert _numbers(p) == list(range(500))
