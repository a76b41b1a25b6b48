"""The attach socket's protocol (monitor/attach.py): hello lines and frames."""

import _socket

import pytest

from dockyard.monitor import attach


def test_frames_round_trip_in_any_slicing():
    data = (attach.frame(attach.STDOUT, b"hello") + attach.frame(attach.STDERR, b"")
            + attach.frame(attach.EXIT, b"3") + attach.frame(attach.STDIN, b"x" * 70000))
    for step in (1, 2, 5, 7, 4096, len(data)):
        r = attach.FrameReader()
        got = []
        for i in range(0, len(data), step):
            got += r.feed(data[i:i + step])
        assert got == [(b"1", b"hello"), (b"2", b""), (b"x", b"3"), (b"0", b"x" * 70000)]
        assert r.buf == b""


def test_hello_names_the_wanted_streams():
    line = attach.hello(stdin=False, stdout=True, stderr=True)
    assert line == b"ATTACH/1 stdin=0 stdout=1 stderr=1\n"
    assert attach.parse_hello(line) == {"stdout", "stderr"}
    assert attach.parse_hello(b"ATTACH/1 stdin=1 bogus=1") == {"stdin"}
    assert attach.parse_hello(b"GET / HTTP/1.1") is None


def test_a_client_reads_its_hello_then_frames():
    a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        c = attach.Client(a)
        assert not c.greeted
        first = attach.hello(True, True, False)
        assert c.take_hello(first[:5]) is None
        rest = c.take_hello(first[5:] + attach.frame(attach.RESIZE, b"24 80"))
        assert c.greeted and c.wants == {"stdin", "stdout"}
        assert c.reader.feed(rest) == [(b"r", b"24 80")]
        with pytest.raises(ValueError):
            attach.Client(b).take_hello(b"nonsense\n")
    finally:
        a.close()
        b.close()


def test_a_connection_sends_what_the_monitor_expects():
    a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
    conn = attach.Connection(a)
    try:
        conn.send_stdin(b"ls\r")
        conn.resize(50, 132)
        conn.signal(10)
        conn.close_stdin()
        conn.detached()
        r = attach.FrameReader()
        got = []
        while len(got) < 5:
            got += r.feed(b.recv(4096))
        assert got == [(b"0", b"ls\r"), (b"r", b"50 132"), (b"s", b"10"), (b"c", b""), (b"d", b"")]
        b.sendall(attach.frame(attach.STDOUT, b"out") + attach.frame(attach.EXIT, b"0"))
        frames = []
        while len(frames) < 2:
            frames += conn.read()
        assert frames == [(b"1", b"out"), (b"x", b"0")]
        b.close()
        assert conn.read() is None
    finally:
        conn.close()


def test_a_slow_client_is_dropped_not_waited_for():
    a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        a.setblocking(False)
        c = attach.Client(a, {"stdout"})
        chunk = attach.frame(attach.STDOUT, b"x" * 65536)
        sent = 0
        while c.send(chunk):
            sent += 1
            assert sent < 1000
        assert len(c.pending) > attach.MAX_PENDING
    finally:
        a.close()
        b.close()
