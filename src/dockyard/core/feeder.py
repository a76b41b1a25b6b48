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

Built on the `_thread` and `_queue` C modules: `threading` would cost a pull
~3 ms of imports (functools, collections) before its first layer starts.
"""

from __future__ import annotations

import _thread
from _queue import SimpleQueue

_END = object()


class Feeder:
    def __init__(self, sink) -> None:
        self.sink = sink
        self.todo: SimpleQueue = SimpleQueue()  # buffers for the thread, then _END
        self.fed: SimpleQueue = SimpleQueue()   # a token for each buffer it is done with
        self.pending = 0  # buffers handed over and not yet known to be done with
        self.error: BaseException | None = None  # to raise in the caller, once
        self.failed = False  # after an error, nothing more reaches the function
        self.closed = False
        self.ended = _thread.allocate_lock()  # held until the thread ends
        self.ended.acquire()
        _thread.start_new_thread(self._run, ())

    @property
    def alive(self) -> bool:
        return self.ended.locked()

    def _run(self) -> None:
        try:
            while (data := self.todo.get()) is not _END:
                if not self.failed:
                    try:
                        self.sink(data)
                    except BaseException as e:  # reported to the caller, which stops
                        self.error, self.failed = e, True
                self.fed.put(None)
        finally:
            self.ended.release()

    def _raise(self) -> None:
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def add(self, data) -> None:
        self._raise()
        self.todo.put(data)
        self.pending += 1

    def wait(self, left: int) -> None:
        """Until at most `left` buffers are still to be fed."""
        while self.pending > left:
            self.fed.get()
            self.pending -= 1
        self._raise()

    def close(self) -> None:
        """Feed what is pending, end the thread, raise the function's error if any."""
        if not self.closed:
            self.closed = True
            self.todo.put(_END)
            self.ended.acquire()  # the thread has ended
            self.ended.release()
            self.pending = 0
        self._raise()
