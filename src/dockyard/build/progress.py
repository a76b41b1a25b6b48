"""Build output in the shape of BuildKit's plain progress (`--progress=plain`), on
stderr, which is where `docker build` writes it::

    #4 [2/3] RUN echo hi
    #4 0.212 hi
    #4 DONE 0.2s

    #5 [3/3] COPY a /a
    #5 CACHED

Each vertex gets the next `#N`; a RUN's output lines carry the seconds since the
step began. `quiet` (`build -q`) prints nothing, but keeps the last lines of each
step's output for the error report, as BuildKit does.
"""

from __future__ import annotations

import time


class Progress:
    def __init__(self, stream, quiet: bool = False) -> None:
        self.stream = stream
        self.quiet = quiet
        self.n = 0

    def _write(self, text: str) -> None:
        if self.quiet or self.stream is None:
            return
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass

    def vertex(self, name: str) -> "Vertex":
        self.n += 1
        v = Vertex(self, self.n, name)
        self._write(f"#{v.n} {name}\n")
        return v

    def warn(self, text: str) -> None:
        self._write(f"WARNING: {text}\n")


class Vertex:
    """One step of the output."""

    def __init__(self, progress: Progress, n: int, name: str) -> None:
        self.p = progress
        self.n = n
        self.name = name
        self.start = time.monotonic()
        self.tail: list[str] = []
        self._partial = b""

    def line(self, text: str) -> None:
        self.p._write(f"#{self.n} {text}\n")

    def output(self, data: bytes) -> None:
        """Bytes the step's process wrote: printed line by line, timestamped."""
        data = self._partial + data
        *lines, self._partial = data.split(b"\n")
        for raw in lines:
            self._out(raw)

    def _out(self, raw: bytes) -> None:
        text = raw.decode("utf-8", "replace").rstrip("\r")
        stamp = f"{time.monotonic() - self.start:.3f}"
        self.tail.append(f"{stamp} {text}")
        if len(self.tail) > 10:
            del self.tail[0]
        self.p._write(f"#{self.n} {stamp} {text}\n")

    def flush_output(self) -> None:
        if self._partial:
            self._out(self._partial)
            self._partial = b""

    def done(self) -> None:
        self.flush_output()
        self.p._write(f"#{self.n} DONE {time.monotonic() - self.start:.1f}s\n\n")

    def cached(self) -> None:
        self.p._write(f"#{self.n} CACHED\n\n")

    def error(self, message: str) -> None:
        self.flush_output()
        self.p._write(f"#{self.n} ERROR: {message}\n")
