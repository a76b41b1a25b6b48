"""`logs`: what a container printed, stdout to stdout and stderr to stderr."""

from __future__ import annotations

import os
import sys

from ..flags import Command, Flag, UsageError, parse

LOGS = Command("logs", "[OPTIONS] CONTAINER", "Fetch the logs of a container", [
    Flag("-f, --follow", "bool", "Follow log output"),
    Flag("--since", "str", 'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)'),
    Flag("-n, --tail", "str", 'Number of lines to show from the end of the logs (default "all")'),
    Flag("-t, --timestamps", "bool", "Show timestamps"),
    Flag("--until", "str", 'Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)'),
], min_args=1, max_args=1, aliases=("container logs",))

RUNNING_STATES = ("running", "starting", "restarting", "paused")


def _emit(records, timestamps: bool) -> None:
    out: list[bytes] = []
    err: list[bytes] = []
    for stream, text, ts in records:
        line = (f"{ts} {text}" if timestamps else text).encode("utf-8", "surrogateescape")
        (err if stream == "stderr" else out).append(line)
        if len(out) + len(err) >= 4096:
            _flush(out, err)
    _flush(out, err)


def _flush(out: list[bytes], err: list[bytes]) -> None:
    for fd, chunks in ((1, out), (2, err)):
        if chunks:
            data = memoryview(b"".join(chunks))
            while data:
                data = data[os.write(fd, data):]
            chunks.clear()


def _time(o: dict, name: str, now: int) -> int | None:
    value = o[name]
    if value is None or value == "":
        return None
    from ...core.durations import parse_timestamp
    from ...errors import DockyardError

    try:
        return parse_timestamp(value, now)
    except ValueError as e:
        raise DockyardError(f'invalid value for "{name}": {e}') from None


def logs(ctx, argv: list[str]) -> int:
    o, args = parse(LOGS, argv)
    if o["help"]:
        sys.stdout.write(LOGS.help_text())
        return 0
    tail = None
    if o["tail"] not in (None, "all"):
        try:
            tail = int(o["tail"])
        except ValueError:
            raise UsageError(f'invalid argument "{o["tail"]}" for "-n, --tail" flag', "logs") from None
    from ...core.clock import now_ns

    now = now_ns()
    since, until = _time(o, "since", now), _time(o, "until", now)
    engine = ctx.engine()
    sys.stdout.flush()
    if not o["follow"]:
        _emit(engine.logs(args[0], tail=tail, since=since, until=until), o["timestamps"])
        return 0
    return _follow(engine, args[0], tail, o["timestamps"], since, until)


def _follow(engine, ref: str, tail: int | None, timestamps: bool, since: int | None,
            until: int | None) -> int:
    """Print what is there, then what is appended (across rotations), until the
    container stops (or `until` has passed)."""
    import time

    from ...core.clock import now_ns
    from ...monitor.logfile import LogCursor, Window, records_of

    cid = engine.container(ref).id
    path = engine.log_path(cid)
    window = Window(since, until)
    with LogCursor(path) as cursor:
        if tail is not None and tail >= 0:
            from collections import deque

            last = deque((r for b in cursor.blocks() for r in records_of(b)), maxlen=tail) if tail else []
            _emit(window.filter(last), timestamps)
        else:
            for block in cursor.blocks():
                _emit(window.filter(records_of(block)), timestamps)
                if window.done:
                    return 0
        while not window.done:
            got = False
            for block in cursor.blocks():
                got = True
                _emit(window.filter(records_of(block)), timestamps)
            if got:
                continue
            if until is not None and now_ns() > until:
                return 0
            engine.close()  # see the monitor's writes, not a snapshot
            if not _running(engine, cid):
                # the monitor writes the last of the output before it records the exit
                for block in cursor.blocks():
                    _emit(window.filter(records_of(block)), timestamps)
                return 0
            time.sleep(0.05)
    return 0


def _running(engine, cid: str) -> bool:
    from ...errors import ContainerNotFound

    try:
        return engine.container(cid).state in RUNNING_STATES
    except ContainerNotFound:
        return False
