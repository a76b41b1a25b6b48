"""Handing buffers, in order, to a function that runs in a helper thread.

Unpacking a layer is a chain of steps on the same bytes: receive, hash and store
the compressed blob, inflate, hash again (the DiffID), write files. hashlib
releases the GIL, so the DiffID's hashing (a quarter of a pull's CPU) can run on
a second core next to the inflate and the tar parsing, which hold it: a layer
alone (a one-layer image, or the last layer of a pull) then unpacks in about two
thirds of the time (image/layers.py's HashingReader).

The caller promises not to change a buffer it handed over until `wait(1)` has
returned twice more, i.e. it cycles through two buffers (or hands over bytes,
which cannot change). The first error of the function is raised again, in the
caller, by the next `add`, `wait` or `close`.
"""

from __future__ import annotations

import threading
from collections import deque


class Feeder:
    def __init__(self, sink, name: str) -> None:
        self.sink = sink
        self.pending: deque = deque()
        self.cond = threading.Condition()
        self.closed = False
        self.error: BaseException | None = None  # to raise in the caller, once
        self.failed = False  # after an error, nothing more reaches the function
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            with self.cond:
                while not self.pending and not self.closed:
                    self.cond.wait()
                if not self.pending:
                    return
                data = self.pending[0]
            if not self.failed:
                try:
                    self.sink(data)
                except BaseException as e:  # reported to the caller, which stops
                    self.error, self.failed = e, True
            with self.cond:
                self.pending.popleft()
                self.cond.notify_all()

    def _raise(self) -> None:
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def add(self, data) -> None:
        self._raise()
        with self.cond:
            self.pending.append(data)
            self.cond.notify_all()

    def wait(self, left: int) -> None:
        """Until at most `left` buffers are still to be fed."""
        with self.cond:
            while len(self.pending) > left:
                self.cond.wait()
        self._raise()

    def close(self) -> None:
        """Feed what is pending, end the thread, raise the function's error if any."""
        if self.thread.is_alive():
            with self.cond:
                self.closed = True
                self.cond.notify_all()
            self.thread.join()
        self._raise()
