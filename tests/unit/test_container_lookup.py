"""Containers are found by full id, name, or unique id prefix, in Docker's order."""

import pytest

from dockyard.core.layout import Layout
from dockyard.errors import ContainerNotFound, InvalidArgument
from dockyard.services.containers import Containers
from dockyard.store.db import Database

IDS = {"abc123" + "0" * 58: "first", "abc456" + "0" * 58: "second", "def000" + "0" * 58: "abc123"}


@pytest.fixture
def containers(tmp_path):
    db = Database(str(tmp_path / "dockyard.db"))
    with db.write() as c:
        for cid, name in IDS.items():
            c.execute("INSERT INTO containers (id, name, image, image_id, created, command, state, runtime, config)"
                      " VALUES (?, ?, 'busybox', 'sha256:x', 1, 'true', 'exited', 'native', '{}')", (cid, name))
    yield Containers(Layout(str(tmp_path), str(tmp_path / "run")), db)
    db.close()


def test_full_id(containers):
    cid = "abc123" + "0" * 58
    assert containers.get(cid).name == "first"


def test_name_with_or_without_slash(containers):
    assert containers.get("second").id.startswith("abc456")
    assert containers.get("/second").id.startswith("abc456")


def test_a_name_wins_over_an_id_prefix(containers):
    # "abc123" is also a prefix of the first container's id: Docker matches the name first
    assert containers.get("abc123").id.startswith("def000")


def test_unique_prefix(containers):
    assert containers.get("abc4").name == "second"
    assert containers.get("d").name == "abc123"


def test_ambiguous_prefix(containers):
    with pytest.raises(InvalidArgument, match="multiple IDs found with provided prefix: abc"):
        containers.get("abc")


def test_unknown(containers):
    with pytest.raises(ContainerNotFound, match="No such container: zzz"):
        containers.get("zzz")
    with pytest.raises(ContainerNotFound):
        containers.get("0123")
