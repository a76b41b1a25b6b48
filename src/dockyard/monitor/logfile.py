"""Container logs in Docker's json-file format: one JSON object per line,
`{"log":"hi there\\n","stream":"stdout","time":"2026-11-28T09:40:20.123456789Z"}`.

The monitor writes; `logs` reads, also while the monitor is still writing (only
complete lines are read). Lines longer than 16 KiB are split into several records,
the first ones without a trailing newline, as Docker does.
"""

from __future__ import annotations

import os
import time

try:
    from _json import encode_basestring as _quote, scanstring as _scan
except ImportError:  # pragma: no cover
    from json.encoder import py_encode_basestring as _quote
    from json.decoder import py_scanstring as _scan

MAX_LINE = 16 * 1024


def _stamp(ns: int) -> str:
    sec, frac = divmod(ns, 1_000_000_000)
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(sec))}.{frac:09d}Z"


class JsonFileWriter:
    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        self.partial: dict[str, bytes] = {"stdout": b"", "stderr": b""}

    @classmethod
    def from_fd(cls, fd: int, partial: dict[str, bytes]) -> "JsonFileWriter":
        """A writer taking over an open log (a monitor that re-executed itself)."""
        w = cls.__new__(cls)
        w.fd = fd
        os.set_inheritable(fd, False)
        w.partial = dict(partial)
        return w

    def feed(self, stream: str, data: bytes) -> None:
        buf = self.partial[stream] + data
        tail = b""
        end = buf.rfind(b"\n")
        if end < 0:
            tail, lines = buf, []
        else:
            tail = buf[end + 1:]
            lines = buf[: end + 1].splitlines(keepends=True)
        while len(tail) > MAX_LINE:
            lines.append(tail[:MAX_LINE])
            tail = tail[MAX_LINE:]
        self.partial[stream] = tail
        if lines:
            self._write(stream, lines)

    def close_stream(self, stream: str) -> None:
        """The stream ended: write what is left of its last line."""
        if self.partial[stream]:
            self._write(stream, [self.partial[stream]])
            self.partial[stream] = b""

    def _write(self, stream: str, lines: list[bytes]) -> None:
        suffix = f',"stream":"{stream}","time":"{_stamp(time.time_ns())}"}}\n'
        out = []
        for line in lines:
            if len(line) > MAX_LINE + 1:
                for i in range(0, len(line), MAX_LINE):
                    out.append('{"log":' + _quote(line[i:i + MAX_LINE].decode("utf-8", "replace")) + suffix)
            else:
                out.append('{"log":' + _quote(line.decode("utf-8", "replace")) + suffix)
        data = "".join(out).encode()
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]

    def close(self) -> None:
        for s in ("stdout", "stderr"):
            self.close_stream(s)
        os.close(self.fd)


def parse_line(line: str) -> tuple[str, str, str] | None:
    """(stream, text, time) of one record; None for a line that is not one."""
    if line.startswith('{"log":"'):
        try:
            text, end = _scan(line, 8)
            if line.startswith(',"stream":"stdout","time":"', end):
                return "stdout", text, line[end + 27:end + 57].rstrip('"}\n')
            if line.startswith(',"stream":"stderr","time":"', end):
                return "stderr", text, line[end + 27:end + 57].rstrip('"}\n')
        except ValueError:
            pass
    import json

    try:
        doc = json.loads(line)
    except ValueError:
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("log"), str):
        return None
    return doc.get("stream") or "stdout", doc["log"], doc.get("time") or ""


def read_records(path: str):
    """Yield (stream, text, time) for every complete record in the log file."""
    try:
        f = open(path, "r", encoding="utf-8", errors="replace", newline="\n")
    except FileNotFoundError:
        return
    with f:
        for line in f:
            if not line.endswith("\n"):
                break  # the monitor is still writing this one
            rec = parse_line(line)
            if rec is not None:
                yield rec
