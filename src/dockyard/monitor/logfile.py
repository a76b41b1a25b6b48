"""Container logs in Docker's json-file format: one JSON object per line,
`{"log":"hi there\\n","stream":"stdout","time":"2026-11-28T09:40:20.123456789Z"}`.

The monitor writes; `logs` reads, also while the monitor is still writing (only
complete lines are read). Lines longer than 16 KiB are split into several records,
the first ones without a trailing newline, as Docker does.

Rotation, as Docker's json-file driver does it (`--log-opt max-size=10m
--log-opt max-file=3`)::

    <id>-json.log        the file being written
    <id>-json.log.1      the one before it, and so on up to
    <id>-json.log.<N-1>  the oldest kept (N = max-file); older ones are gone

Before a write would take the current file past max-size, the files move up one
(`.1` -> `.2`, ..., the current -> `.1`) and a new current file starts; with
max-file 1 the current file is truncated instead. A reader never has to stop the
writer: it follows one file to its end and then the file that replaced it, found by
inode among the rotated names (LogCursor), so nothing is read twice or skipped
while the writer rotates underneath, as long as the file it reads is still kept.

With `--log-driver none` the monitor discards the output (NullLog).
"""

from __future__ import annotations

import os
import time

# the spec annotations by which the engine passes HostConfig.LogConfig to the monitor
from ..oci.spec import (ANNOTATION_LOG_DRIVER as ANNOTATION_DRIVER,
                        ANNOTATION_LOG_MAX_FILE as ANNOTATION_MAX_FILE,
                        ANNOTATION_LOG_MAX_SIZE as ANNOTATION_MAX_SIZE)

try:
    from _json import encode_basestring as _quote, scanstring as _scan
except ImportError:  # pragma: no cover
    from json.encoder import py_encode_basestring as _quote
    from json.decoder import py_scanstring as _scan

MAX_LINE = 16 * 1024
# for containers whose spec predates the annotations: the engine's defaults (20m x 5)
DEFAULT_MAX_SIZE = 20 * 1024 * 1024
DEFAULT_MAX_FILE = 5

_OPEN_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC


def _stamp(ns: int) -> str:
    sec, frac = divmod(ns, 1_000_000_000)
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(sec))}.{frac:09d}Z"


def open_log(path: str, spec: dict | None = None):
    """The monitor's log writer for a container, as its spec's annotations say."""
    ann = (spec or {}).get("annotations") or {}
    if ann.get(ANNOTATION_DRIVER) == "none":
        return NullLog()
    return JsonFileWriter(path, int(ann.get(ANNOTATION_MAX_SIZE) or DEFAULT_MAX_SIZE),
                          int(ann.get(ANNOTATION_MAX_FILE) or DEFAULT_MAX_FILE))


def rotated_name(path: str, index: int) -> str:
    return f"{path}.{index}" if index else path


class JsonFileWriter:
    """Appends records to `path`, rotating it past `max_size` bytes (-1: never) and
    keeping `max_file` files in all."""

    def __init__(self, path: str, max_size: int = -1, max_file: int = 1) -> None:
        self.path = path
        self.max_size = max_size
        self.max_file = max(1, max_file)
        self.fd = os.open(path, _OPEN_FLAGS, 0o640)
        self.size = os.fstat(self.fd).st_size
        self.rotated = self._count_rotated()
        self.partial: dict[str, bytes] = {"stdout": b"", "stderr": b""}

    def _count_rotated(self) -> int:
        """How many rotated files there are (`.1` to `.n`), so a rotation renames
        only those, whatever max-file allows."""
        n = 0
        while n < self.max_file - 1 and os.path.exists(f"{self.path}.{n + 1}"):
            n += 1
        return n

    def handover(self) -> tuple:
        """What a re-executed monitor needs to carry on (marshal-able): pass it to
        `from_fd(*handover)`. The descriptor must be inherited across the exec."""
        return (self.fd, self.partial, {"path": self.path, "max_size": self.max_size,
                                        "max_file": self.max_file})

    @classmethod
    def from_fd(cls, fd: int, partial: dict[str, bytes], options: dict | None = None):
        """A writer taking over an open log (a monitor that re-executed itself)."""
        if options and options.get("driver") == "none":
            return NullLog.from_fd(fd, partial, options)
        w = cls.__new__(cls)
        w.fd = fd
        os.set_inheritable(fd, False)
        w.partial = dict(partial)
        options = options or {}
        # an old monitor's hand-over (fd, partial): the path is the descriptor's own
        w.path = options.get("path") or os.readlink(f"/proc/self/fd/{fd}")
        w.max_size = options.get("max_size", DEFAULT_MAX_SIZE)
        w.max_file = max(1, options.get("max_file", DEFAULT_MAX_FILE))
        w.size = os.fstat(fd).st_size
        w.rotated = w._count_rotated()
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
        if self.max_size >= 0 and self.size + len(data) > self.max_size:
            self._write_rotating(out)
            return
        self._write_all(data)
        self.size += len(data)

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]

    def _write_rotating(self, records: list[str]) -> None:
        """Records one by one into files of at most max_size bytes (a record larger
        than that gets a file of its own), rotating between them."""
        chunk: list[bytes] = []
        pending = 0
        for rec in records:
            b = rec.encode()
            if self.size + pending + len(b) > self.max_size and self.size + pending > 0:
                if chunk:
                    self._write_all(b"".join(chunk))
                    self.size += pending
                    chunk, pending = [], 0
                self._rotate()
            chunk.append(b)
            pending += len(b)
        if chunk:
            self._write_all(b"".join(chunk))
            self.size += pending

    def _rotate(self) -> None:
        if self.max_file < 2:
            os.ftruncate(self.fd, 0)  # O_APPEND: the next write lands at 0
            self.size = 0
            return
        p = self.path
        top = min(self.rotated + 1, self.max_file - 1)  # the oldest kept one is overwritten
        # top down, so a reader that finds a file's successor by name sees each
        # name either before or after a move, never another file's (LogCursor)
        for i in range(top, 1, -1):
            try:
                os.rename(f"{p}.{i - 1}", f"{p}.{i}")
            except FileNotFoundError:
                pass
        os.rename(p, p + ".1")
        self.rotated = top
        fd = os.open(p, _OPEN_FLAGS, 0o640)
        os.dup2(fd, self.fd, inheritable=False)  # the descriptor's number stays the same
        os.close(fd)
        self.size = 0

    def close(self) -> None:
        for s in ("stdout", "stderr"):
            self.close_stream(s)
        os.close(self.fd)


class NullLog:
    """`--log-driver none`: the output goes nowhere (but still to an attached client).
    Holds /dev/null so the monitor's hand-over treats it like any writer."""

    def __init__(self) -> None:
        self.fd = os.open("/dev/null", os.O_WRONLY | os.O_CLOEXEC)
        self.partial: dict[str, bytes] = {"stdout": b"", "stderr": b""}

    def handover(self) -> tuple:
        return (self.fd, self.partial, {"driver": "none"})

    @classmethod
    def from_fd(cls, fd: int, partial: dict[str, bytes], options: dict | None = None) -> "NullLog":
        w = cls.__new__(cls)
        w.fd = fd
        os.set_inheritable(fd, False)
        w.partial = {"stdout": b"", "stderr": b""}
        return w

    def feed(self, stream: str, data: bytes) -> None:
        pass

    def close_stream(self, stream: str) -> None:
        pass

    def close(self) -> None:
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


# ---- reading ------------------------------------------------------------------

_BLOCK = 1 << 20


class LogCursor:
    """Reads a container's log from its oldest kept file on, across rotations: each
    file to its end, then the file that took its place. `read()` returns the
    complete records available now; the incomplete tail of the file being written
    waits for the next call."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.f = None
        self.ino = 0
        self.pending = b""
        self._open_oldest()

    def close(self) -> None:
        if self.f is not None:
            self.f.close()
            self.f = None

    def __enter__(self) -> "LogCursor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _index_of(self, ino: int) -> int | None:
        """Where the file with inode `ino` is now: 0 (current), k (`.k`), None (gone)."""
        i = 0
        misses = 0
        while misses < 2:  # a rotation in progress leaves at most one gap
            try:
                if os.stat(rotated_name(self.path, i)).st_ino == ino:
                    return i
                misses = 0
            except FileNotFoundError:
                misses += 1
            i += 1
        return None

    def _open_oldest(self) -> bool:
        last = 0
        i = 1
        misses = 0
        while misses < 2:
            if os.path.exists(f"{self.path}.{i}"):
                last, misses = i, 0
            else:
                misses += 1
            i += 1
        for k in range(last, -1, -1):
            if self._open(rotated_name(self.path, k)):
                return True
        return False

    def _open(self, name: str) -> bool:
        try:
            f = open(name, "rb", buffering=0)
        except FileNotFoundError:
            return False
        self.close()
        self.f = f
        self.ino = os.fstat(f.fileno()).st_ino
        return True

    def _advance(self, k: int | None) -> bool:
        """Move from the current file, now at index `k` (None: removed), to the
        file written after it. False if there is none yet."""
        for _ in range(100):
            if k is None:
                # dropped by max-file while we read it: carry on with the oldest kept
                old = self.ino
                if not self._open_oldest() or self.ino == old:
                    return False
                return True
            nxt = rotated_name(self.path, k - 1)
            try:
                f = open(nxt, "rb", buffering=0)
            except FileNotFoundError:
                f = None
            # valid only if ours did not move meanwhile: the names shift top down,
            # so while ours stays at .k, .k-1 is still the file written after it
            try:
                still = os.stat(rotated_name(self.path, k)).st_ino == self.ino
            except FileNotFoundError:
                still = False
            if f is not None and still:
                self.close()
                self.f = f
                self.ino = os.fstat(f.fileno()).st_ino
                return True
            if f is not None:
                f.close()
            elif still:
                time.sleep(0.001)  # renamed, and the writer is about to create the next
            k = self._index_of(self.ino)
            if k == 0:
                return False
        return False

    def _drain(self) -> list[bytes]:
        out = []
        while True:
            b = self.f.read(_BLOCK)
            if not b:
                return out
            out.append(b)

    def blocks(self):
        """Yield the data available now, in blocks that end at a record boundary."""
        if self.f is None:
            if not self._open_oldest():
                return
        while True:
            try:
                size = os.fstat(self.f.fileno()).st_size
                if size < self.f.tell():  # max-file 1: truncated under us
                    self.f.seek(0)
                    self.pending = b""
            except OSError:
                pass
            for b in self._drain():
                yield from self._complete(b)
            k = self._index_of(self.ino)
            if k == 0:
                return
            # rotated away (or removed, k None): the writer finished it before the
            # rename, so what is left of it is complete
            for b in self._drain():
                yield from self._complete(b)
            if self.pending:
                data, self.pending = self.pending, b""
                yield data + b"\n"
            if not self._advance(k):
                return

    def _complete(self, b: bytes):
        data = self.pending + b
        end = data.rfind(b"\n")
        if end < 0:
            self.pending = data
            return
        self.pending = data[end + 1:]
        yield data[: end + 1]

    def read(self) -> bytes:
        return b"".join(self.blocks())


def records_of(block: bytes):
    """(stream, text, time) of each record in a block of complete lines."""
    for line in block.decode("utf-8", "replace").split("\n"):
        if line:
            rec = parse_line(line)
            if rec is not None:
                yield rec


def read_records(path: str):
    """Yield (stream, text, time) for every complete record in the log, oldest file
    first."""
    if not os.path.exists(path) and not os.path.exists(path + ".1"):
        return
    with LogCursor(path) as cursor:
        for block in cursor.blocks():
            yield from records_of(block)


def time_key(ns: int) -> str:
    """A record time to compare record times with: the writer's fixed-width stamps
    order as strings."""
    return _stamp(ns)


def _record_ns(t: str) -> int:
    from ..core.clock import parse_rfc3339

    try:
        return parse_rfc3339(t)
    except (ValueError, OverflowError):
        return 0


def _before(t: str, key: str, ns: int) -> bool:
    if len(t) == 30 and t[-1] == "Z":
        return t < key
    return _record_ns(t) < ns


def _after(t: str, key: str, ns: int) -> bool:
    if len(t) == 30 and t[-1] == "Z":
        return t > key
    return _record_ns(t) > ns


class Window:
    """`--since` / `--until` as Docker applies them to a stream of records: skip
    until the first record at or after `since` (later ones all pass, even if their
    clock stepped back), stop at the first record after `until`."""

    def __init__(self, since: int | None = None, until: int | None = None) -> None:
        self.since = since
        self.until = until
        self.since_key = time_key(since) if since else ""
        self.until_key = time_key(until) if until else ""
        self.done = False

    def filter(self, records):
        if self.since is None and self.until is None:
            yield from records
            return
        for rec in records:
            if self.since is not None:
                if _before(rec[2], self.since_key, self.since):
                    continue
                self.since = None
            if self.until is not None and _after(rec[2], self.until_key, self.until):
                self.done = True
                return
            yield rec


def select_records(path: str, tail: int | None = None, since: int | None = None,
                   until: int | None = None) -> list[tuple[str, str, str]]:
    """What `logs` prints: the last `tail` records (None or < 0: all), then only those
    in the since/until window (ns), as Docker applies them."""
    records = read_records(path)
    if tail is not None and tail >= 0:
        from collections import deque

        records = deque(records, maxlen=tail) if tail else []
    return list(Window(since, until).filter(records))
