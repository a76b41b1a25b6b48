"""The content store and the database: verification on write, atomicity, locking."""

import os
import threading

import pytest

from dockyard.errors import InvalidImage
from dockyard.oci.digest import chain_ids, of_bytes
from dockyard.store.blobs import BlobStore
from dockyard.store.db import Database, join_list, split_list


def test_blob_put_verifies(tmp_path):
    store = BlobStore(str(tmp_path / "blobs"))
    d = store.put(b"hello")
    assert d == of_bytes(b"hello") and store.read(d) == b"hello"
    with pytest.raises(InvalidImage, match="digest mismatch"):
        store.put(b"other", expected=of_bytes(b"hello!"))
    assert os.listdir(tmp_path / "blobs" / "ingest") == []  # nothing half-written stays


def test_blob_corruption_is_detected(tmp_path):
    store = BlobStore(str(tmp_path / "blobs"))
    d = store.put(b"hello")
    with open(store.path(d), "wb") as f:
        f.write(b"jello")
    with pytest.raises(InvalidImage, match="corrupt"):
        store.read(d)


def test_chain_ids():
    a, b = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    assert chain_ids([a, b]) == [a, of_bytes(f"{a} {b}".encode())]


def test_lists_in_columns():
    assert split_list(join_list(["a", "b c"])) == ["a", "b c"]
    assert split_list(join_list([])) == [] and split_list(join_list(None)) is None


def test_schema_and_concurrent_writers(tmp_path):
    path = str(tmp_path / "d" / "dockyard.db")
    Database(path).close()
    errors = []

    def writer(n):
        try:
            db = Database(path)
            for i in range(50):
                with db.write() as c:
                    c.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (f"{n}-{i}", "x"))
            db.close()
        except Exception as e:  # pragma: no cover - the failure is the assertion below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert Database(path).one("SELECT COUNT(*) FROM meta")[0] == 400
