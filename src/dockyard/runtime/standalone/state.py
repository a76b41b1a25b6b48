"""What the standalone runtime remembers of a container between commands: one
directory per container under the state root (`/run/dockyard-runtime/<id>`), holding
`state.json` and, until `start`, the exec FIFO."""

from __future__ import annotations

import os

from ...core import jsonenc
from ...errors import ContainerNotFound, InvalidArgument

DEFAULT_ROOT = "/run/dockyard-runtime"
_ID_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-.")


def check_id(cid: str) -> None:
    """Ids name directories: runc's rule (letters, digits, `_+-.`, not `.`/`..`)."""
    if not cid:
        raise InvalidArgument("a container id is required")
    if cid in (".", "..") or not set(cid) <= _ID_CHARS or len(cid) > 1024:
        raise InvalidArgument(f"invalid container id {cid!r}")


class ContainerState:
    """The record in state.json; `status()` is computed, never stored."""

    __slots__ = ("dir", "id", "pid", "start_time", "bundle", "created", "annotations", "oci_version",
                 "cgroup_path", "cgroup_made", "hooks", "host_mounts")

    def __init__(self, directory: str, **kw) -> None:
        self.dir = directory
        self.id: str = kw.get("id", "")
        self.pid: int = kw.get("pid", 0)
        self.start_time: int = kw.get("start_time", 0)
        self.bundle: str = kw.get("bundle", "")
        self.created: str = kw.get("created", "")
        self.annotations: dict = kw.get("annotations") or {}
        self.oci_version: str = kw.get("oci_version", "")
        self.cgroup_path: str = kw.get("cgroup_path", "")
        self.cgroup_made: list[str] = kw.get("cgroup_made") or []  # ancestors create made
        # the hooks that run after create (poststart, poststop), as config.json had
        # them then: later edits of the file must not change the container
        self.hooks: dict = kw.get("hooks") or {}
        # the root, when the container has no mount namespace of its own: its mounts
        # were made in ours, and are taken down by `delete`
        self.host_mounts: str = kw.get("host_mounts", "")

    @property
    def fifo(self) -> str:
        return f"{self.dir}/exec.fifo"

    def save(self) -> None:
        data = {k: getattr(self, k) for k in self.__slots__ if k != "dir"}
        tmp = f"{self.dir}/.state.json.tmp"
        with open(tmp, "w") as f:
            f.write(jsonenc.dumps(data))
        os.replace(tmp, f"{self.dir}/state.json")

    def status(self) -> str:
        if self.pid <= 0:
            return "creating"
        if not alive(self.pid, self.start_time):
            return "stopped"
        return "created" if os.path.exists(self.fifo) else "running"

    def document(self) -> dict:
        """The spec's state object (runtime.md, "State"), as `state` prints it."""
        status = self.status()
        doc = {"ociVersion": self.oci_version, "id": self.id, "status": status,
               "pid": self.pid if status in ("created", "running") else 0,
               "bundle": self.bundle, "created": self.created}
        if self.annotations:
            doc["annotations"] = self.annotations
        return doc


def load(root: str, cid: str) -> ContainerState:
    check_id(cid)
    d = f"{root}/{cid}"
    try:
        with open(f"{d}/state.json", "rb") as f:
            data = jsonenc.loads(f.read())
    except FileNotFoundError:
        if os.path.isdir(d):
            # claimed by a `create` still under way (or one killed before it wrote)
            return ContainerState(d, id=cid)
        raise ContainerNotFound(f"container {cid} does not exist") from None
    except ValueError:
        raise InvalidArgument(f"the state of container {cid} is damaged ({d}/state.json)") from None
    return ContainerState(d, **data)


def list_ids(root: str) -> list[str]:
    try:
        return sorted(n for n in os.listdir(root) if os.path.isdir(f"{root}/{n}") and n != "seccomp")
    except FileNotFoundError:
        return []


def proc_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in clock ticks) of a process, or None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            text = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(b")") + 2:].split()
    return fields[0].decode(), int(fields[19])


def alive(pid: int, start_time: int) -> bool:
    st = proc_stat(pid)
    return st is not None and st[0] not in ("Z", "X") and (not start_time or st[1] == start_time)
