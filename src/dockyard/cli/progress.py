"""Pull and push progress as Docker shows it: one line per layer, redrawn in place
with a bar, bytes and speed on a terminal; plain lines when not a terminal; nothing
but the result with -q."""

from __future__ import annotations

import os
import time
from _thread import allocate_lock  # `threading` costs ~5 ms to import on `run`

from ..core.units import human_size


class Progress:
    """The interface of registry.pull.Progress (duck-typed: importing the registry
    code here would put it on `run`'s path)."""

    def status(self, line: str) -> None:
        pass

    def layer(self, layer_id: str, status: str, current: int = 0, total: int = 0) -> None:
        pass

FINAL = ("Pull complete", "Already exists", "Pushed", "Layer already exists", "Download complete")


class PlainProgress(Progress):
    """Lines, each printed once per change of a layer's state (not per byte)."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.last: dict[str, str] = {}
        self.lock = allocate_lock()

    def status(self, line: str) -> None:
        with self.lock:
            self.stream.write(line + "\n")
            self.stream.flush()

    def layer(self, layer_id: str, status: str, current: int = 0, total: int = 0) -> None:
        with self.lock:
            if self.last.get(layer_id) == status:
                return
            self.last[layer_id] = status
            self.stream.write(f"{layer_id}: {status}\n")
            self.stream.flush()


class TerminalProgress(Progress):
    """Per-layer lines redrawn in place (ANSI cursor moves), at most 10 times a second."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.order: list[str] = []
        self.state: dict[str, tuple[str, int, int, float, int]] = {}
        self.drawn = 0
        self.last_draw = 0.0
        self.lock = allocate_lock()
        self.width = _columns(stream)

    def status(self, line: str) -> None:
        with self.lock:
            self._draw(force=True)
            self.stream.write(line + "\n")
            self.stream.flush()
            if self.order:  # a status line after the layers ends their block
                self.order, self.state, self.drawn = [], {}, 0

    def layer(self, layer_id: str, status: str, current: int = 0, total: int = 0) -> None:
        with self.lock:
            now = time.monotonic()
            if layer_id not in self.state:
                self.order.append(layer_id)
                self.state[layer_id] = (status, current, total, now, 0)
            _, _, _, started, start_bytes = self.state[layer_id]
            if status != self.state[layer_id][0]:
                started, start_bytes = now, current
            self.state[layer_id] = (status, current, total, started, start_bytes)
            self._draw(force=status in FINAL or now - self.last_draw > 0.1)

    def _line(self, layer_id: str) -> str:
        status, current, total, started, start_bytes = self.state[layer_id]
        text = f"{layer_id}: {status}"
        if status in ("Downloading", "Pushing") and total:
            frac = min(current / total, 1.0)
            bar = "=" * int(frac * 49) + (">" if frac < 1 else "")
            elapsed = time.monotonic() - started
            speed = (current - start_bytes) / elapsed if elapsed > 0.2 else 0
            text += f" [{bar:<50}] {human_size(current)}/{human_size(total)}"
            if speed:
                text += f" ({human_size(speed)}/s)"
        return text[: self.width - 1]

    def _draw(self, force: bool) -> None:
        if not force or not self.order:
            return
        out = []
        if self.drawn:
            out.append(f"\x1b[{self.drawn}A")
        for lid in self.order:
            out.append("\x1b[2K" + self._line(lid) + "\n")
        self.stream.write("".join(out))
        self.stream.flush()
        self.drawn = len(self.order)
        self.last_draw = time.monotonic()

    def finish(self) -> None:
        with self.lock:
            self._draw(force=True)


class QuietProgress(Progress):
    pass


def _columns(stream) -> int:
    try:
        cols = os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):
        cols = 0
    return cols if cols > 20 else 120


def for_stream(stream, quiet: bool = False) -> Progress:
    if quiet:
        return QuietProgress()
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    return TerminalProgress(stream) if tty and os.environ.get("TERM") != "dumb" else PlainProgress(stream)
