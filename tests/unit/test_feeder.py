"""core/feeder.py: buffers reach the helper thread's function in order, the
two-buffer promise holds, and the function's error reaches the caller."""

import hashlib
import threading

import pytest

from dockyard.core.feeder import Feeder


def test_buffers_are_fed_in_order_and_close_waits_for_them() -> None:
    seen: list[bytes] = []
    f = Feeder(lambda b: seen.append(bytes(b)))
    for i in range(100):
        f.add(str(i).encode())
    f.close()
    assert seen == [str(i).encode() for i in range(100)]
    assert not f.alive


def test_two_alternating_buffers_hash_as_one_stream() -> None:
    """The promise HashingReader relies on: after wait(1), the buffer handed over
    two calls ago is no longer read, so refilling it cannot change the hash."""
    h = hashlib.sha256()
    f = Feeder(h.update)
    bufs = (bytearray(1 << 16), bytearray(1 << 16))
    want = hashlib.sha256()
    for i in range(64):
        f.wait(1)
        b = bufs[i % 2]
        b[:] = bytes([i]) * len(b)
        want.update(b)
        f.add(memoryview(b))
    f.close()
    assert h.hexdigest() == want.hexdigest()


def test_the_functions_error_is_raised_in_the_caller() -> None:
    calls = []

    def sink(b) -> None:
        calls.append(b)
        raise OSError(28, "No space left on device")

    f = Feeder(sink)
    f.add(b"x")
    with pytest.raises(OSError, match="No space"):
        f.wait(0)
    f.add(b"y")  # after an error nothing more reaches the function
    f.close()
    assert calls == [b"x"]
    assert threading.active_count() >= 1
