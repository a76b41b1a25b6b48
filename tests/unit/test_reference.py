"""Image reference parsing and normalisation, as Docker does it."""

import pytest

from dockyard.errors import InvalidArgument
from dockyard.oci import reference


@pytest.mark.parametrize("text,full,familiar", [
    ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
    ("library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("index.docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("me/app:1", "docker.io/me/app:1", "me/app:1"),
    ("localhost:5000/me/app:1", "localhost:5000/me/app:1", "localhost:5000/me/app:1"),
    ("localhost/app", "localhost/app:latest", "localhost/app:latest"),
    ("ghcr.io/org/app:1.2", "ghcr.io/org/app:1.2", "ghcr.io/org/app:1.2"),
    ("me/a.b__c-d", "docker.io/me/a.b__c-d:latest", "me/a.b__c-d:latest"),
])
def test_normalises_like_docker(text, full, familiar):
    ref = reference.parse(text)
    assert str(ref) == full
    assert ref.familiar == familiar


def test_digest_and_tag_both_kept():
    d = "sha256:" + "a" * 64
    ref = reference.parse(f"ghcr.io/org/app:1.2@{d}")
    assert (ref.domain, ref.path, ref.tag, ref.digest) == ("ghcr.io", "org/app", "1.2", d)
    assert reference.parse(f"busybox@{d}").tag is None  # a digest alone gets no :latest


def test_port_is_not_a_tag():
    ref = reference.parse("localhost:5000/app")
    assert ref.domain == "localhost:5000" and ref.tag == "latest"


@pytest.mark.parametrize("bad", ["", "Busybox", "busybox:", ":tag", "a//b", "a/-b", "a_", "-a",
                                 "busybox@sha256:abc", "x:" + "t" * 129, "a..b", "bu$y"])
def test_rejects_invalid(bad):
    with pytest.raises(InvalidArgument):
        reference.parse(bad)


def test_uppercase_repository_has_docker_message():
    with pytest.raises(InvalidArgument, match="must be lowercase"):
        reference.parse("me/MyApp")
