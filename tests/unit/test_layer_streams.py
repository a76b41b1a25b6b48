"""The layer stream readers of `dockyard.image.layers`: gzip decompression (ISA-L
when installed, zlib otherwise), multi-member streams, damaged input, and the
DiffID check of `LayerStore.unpack`."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
import zlib

import pytest

from dockyard.errors import InvalidImage
from dockyard.image import layers
from dockyard.image.layers import LayerStore, open_uncompressed


@pytest.fixture(params=["default", "zlib"])
def inflate(request, monkeypatch):
    """Every test runs with the module `_inflate_module` picks and with zlib."""
    if request.param == "zlib":
        monkeypatch.setattr(layers, "_inflate_module", lambda: zlib)
    return request.param


def _payload(n: int = 3 << 20) -> bytes:
    return os.urandom(n // 2) + b"compressible text\n" * (n // 36)


def _read_all(r, n: int) -> bytes:
    out = []
    while True:
        b = r.read(n)
        assert len(b) <= n
        if not b:
            return b"".join(out)
        out.append(b)


@pytest.mark.parametrize("step", [1, 4096, 1 << 20, 5 << 20])
def test_gzip_round_trip_in_any_read_size(inflate, step):
    data = _payload()
    r = open_uncompressed(io.BytesIO(gzip.compress(data, 6)))
    assert _read_all(r, step if step > 1 else 777) == data


def test_read_all_at_once(inflate):
    data = _payload(1 << 20)
    assert open_uncompressed(io.BytesIO(gzip.compress(data))).read() == data


def test_multi_member_gzip_is_followed(inflate):
    a, b = _payload(1 << 20), b"second member"
    r = open_uncompressed(io.BytesIO(gzip.compress(a) + gzip.compress(b) + gzip.compress(b"")))
    assert _read_all(r, 1 << 16) == a + b


def test_plain_stream_passes_through(inflate):
    data = b"not compressed at all" * 1000
    assert _read_all(open_uncompressed(io.BytesIO(data)), 1000) == data


def test_bomb_is_inflated_in_bounded_steps(inflate):
    bomb = gzip.compress(b"\0" * (64 << 20), 9)
    r = open_uncompressed(io.BytesIO(bomb))
    total = 0
    while b := r.read(1 << 30):
        assert len(b) <= layers._Gunzip.MAX_STEP
        total += len(b)
    assert total == 64 << 20


def _layer(*files: tuple[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in files:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def _diff_id(tar: bytes) -> str:
    return "sha256:" + hashlib.sha256(tar).hexdigest()


@pytest.fixture
def store(tmp_path):
    return LayerStore(str(tmp_path / "layers"), "overlay")


def test_unpack_gzip_layer_and_verify(inflate, store):
    big = _payload(5 << 20)
    tar = _layer(("a/big", big), ("b", b"small"))
    assert store.unpack(io.BytesIO(gzip.compress(tar, 1)), _diff_id(tar)) == len(big) + 5
    with open(store.dir(_diff_id(tar)) + "/a/big", "rb") as f:
        assert f.read() == big


@pytest.mark.parametrize("damage", ["truncated", "flipped-byte", "garbage-after", "wrong-diff-id"])
def test_damaged_layers_are_refused_and_leave_nothing(inflate, store, damage):
    tar = _layer(("f", _payload(2 << 20)))
    blob = gzip.compress(tar, 1)
    diff_id = _diff_id(tar)
    if damage == "truncated":
        blob = blob[: len(blob) // 2]
    elif damage == "flipped-byte":
        blob = blob[:1000] + bytes([blob[1000] ^ 0x55]) + blob[1001:]
    elif damage == "garbage-after":
        blob += b"this is not gzip"
    else:
        diff_id = _diff_id(tar + b"x")
    with pytest.raises(InvalidImage):
        store.unpack(io.BytesIO(blob), diff_id)
    assert not store.present(diff_id)
    assert os.listdir(os.path.join(store.root, "ingest")) == []


def test_zero_padding_after_the_last_member_is_accepted(inflate):
    """As gzip(1) and Python's gzip module do (tape-style padding)."""
    data = _payload(1 << 20)
    r = open_uncompressed(io.BytesIO(gzip.compress(data) + b"\0" * 5000))
    assert _read_all(r, 1 << 16) == data


def test_readinto_fills_the_callers_buffer(inflate):
    data = _payload(3 << 20)
    r = layers.HashingReader(open_uncompressed(io.BytesIO(gzip.compress(data))))
    buf = bytearray(1 << 20)
    out = bytearray()
    while n := r.readinto(buf):
        out += buf[:n]
    assert out == data and r.digest() == "sha256:" + hashlib.sha256(data).hexdigest()


class _ReadOnly:
    """A stream with read() alone, like a test double of a transport."""

    def __init__(self, data: bytes) -> None:
        self.f = io.BytesIO(data)

    def read(self, n: int = -1) -> bytes:
        return self.f.read(min(n, 1000) if n >= 0 else -1)


def test_sources_without_readinto(inflate, store):
    payload = _payload(1 << 20)
    tar = _layer(("f", payload))
    assert store.unpack(_ReadOnly(gzip.compress(tar)), _diff_id(tar)) == len(payload)
    with open(store.dir(_diff_id(tar)) + "/f", "rb") as f:
        assert f.read() == payload
