"""--user resolution against the container's own /etc/passwd and /etc/group."""

import pytest

from dockyard.errors import StartError
from dockyard.oci.users import resolve_user

PASSWD = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\napp:x:1000:1000::/srv/app:/bin/sh\n"
GROUP = b"root:x:0:\nwheel:x:10:root,app\nstaff:x:50:app\nnogroup:x:65534:\napp:x:1000:\n"


def test_default_is_root_with_its_groups():
    assert resolve_user("", PASSWD, GROUP) == (0, 0, [0, 10], "/root")


def test_name_and_primary_and_supplementary_groups():
    assert resolve_user("app", PASSWD, GROUP) == (1000, 1000, [10, 50, 1000], "/srv/app")


def test_numeric_user_in_passwd_uses_its_entry():
    assert resolve_user("65534", PASSWD, GROUP)[:2] == (65534, 65534)


def test_numeric_user_not_in_passwd():
    assert resolve_user("4242", PASSWD, GROUP) == (4242, 0, [0], "/")


def test_user_and_group_given():
    assert resolve_user("app:staff", PASSWD, GROUP) == (1000, 50, [], "/srv/app")
    assert resolve_user("1:2", None, None) == (1, 2, [], "/")


def test_unknown_names_fail_like_docker():
    with pytest.raises(StartError, match="unable to find user ghost: no matching entries in passwd file"):
        resolve_user("ghost", PASSWD, GROUP)
    with pytest.raises(StartError, match="unable to find group ghosts"):
        resolve_user("app:ghosts", PASSWD, GROUP)


def test_image_without_passwd():
    assert resolve_user("", None, None) == (0, 0, [], "/")
