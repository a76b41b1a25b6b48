"""`logs`: what a container printed, stdout to stdout and stderr to stderr."""

from __future__ import annotations

import os
import sys

from ..flags import Command, Flag, UsageError, parse

LOGS = Command("logs", "[OPTIONS] CONTAINER", "Fetch the logs of a container", [
    Flag("-f, --follow", "bool", "Follow log output"),
    Flag("-t, --timestamps", "bool", "Show timestamps"),
    Flag("-n, --tail", "str", 'Number of lines to show from the end of the logs (default "all")'),
], min_args=1, max_args=1, aliases=("container logs",))


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
    engine = ctx.engine()
    sys.stdout.flush()
    if not o["follow"]:
        _emit(engine.logs(args[0], tail=tail), o["timestamps"])
        return 0
    return _follow(engine, args[0], tail, o["timestamps"])


def _records(lines: list[bytes]):
    from ...monitor.logfile import parse_line

    for raw in lines:
        rec = parse_line(raw.decode("utf-8", "replace") + "\n")
        if rec is not None:
            yield rec


def _follow(engine, ref: str, tail: int | None, timestamps: bool) -> int:
    """Print what is there, then what is appended, until the container stops."""
    import time
    from collections import deque

    cid = engine.container(ref).id
    try:
        f = open(engine.log_path(cid), "rb")
    except FileNotFoundError:
        return 0
    with f:
        *lines, pending = f.read().split(b"\n")
        records = _records(lines)
        if tail is not None and tail >= 0:
            records = deque(records, maxlen=tail) if tail else []
        _emit(records, timestamps)
        while True:
            chunk = f.read()
            if chunk:
                *lines, pending = (pending + chunk).split(b"\n")
                _emit(_records(lines), timestamps)
                continue
            engine.close()  # see the monitor's writes, not a snapshot
            if not _running(engine, cid):
                chunk = f.read()
                if chunk:
                    *lines, pending = (pending + chunk).split(b"\n")
                    _emit(_records(lines), timestamps)
                return 0
            time.sleep(0.05)


def _running(engine, cid: str) -> bool:
    from ...errors import ContainerNotFound

    try:
        return engine.container(cid).state in ("running", "starting")
    except ContainerNotFound:
        return False
