"""Containers in a user namespace (`--userns=auto`, `--userns-remap`): root inside is
an unprivileged uid outside.

The image's layers stay as they are on disk (owned by host root); the container
sees them through idmapped mounts, which shift ids by the container's mapping.
Done in this order by the container's first process, still host root:

 1. make the user namespace in a throwaway child and write its uid/gid maps;
 2. in a new mount namespace, bind each lower layer idmapped into the bundle and
    mount the overlay on them (its upper dir belongs to the container's root);
 3. enter the user namespace, and unshare there the mount, UTS, IPC, network,
    cgroup and PID namespaces, so that they belong to it (mounting proc, sysfs,
    mqueue needs that);
 4. fork: the child is PID 1 of the new PID namespace; this process reports its
    pid to the monitor (a subreaper, so PID 1 becomes its child) and exits.
"""

from __future__ import annotations

import os

from ..._sys import libc
from ...errors import StartError


def _map_text(mappings: list[dict]) -> bytes:
    return "".join(f"{m['containerID']} {m['hostID']} {m['size']}\n" for m in mappings).encode()


def make_userns(uid_mappings: list[dict], gid_mappings: list[dict]) -> int:
    """An fd of a new user namespace with these mappings (its maker has exited)."""
    ready_r, ready_w = os.pipe2(os.O_CLOEXEC)
    hold_r, hold_w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        try:
            os.close(ready_r)
            os.close(hold_w)
            libc.unshare(libc.CLONE_NEWUSER)
            os.write(ready_w, b"1")
            os.read(hold_r, 1)
        finally:
            os._exit(0)
    os.close(ready_w)
    os.close(hold_r)
    try:
        if os.read(ready_r, 1) != b"1":
            raise StartError("could not create a user namespace")
        for name, mappings in (("uid_map", uid_mappings), ("gid_map", gid_mappings)):
            fd = os.open(f"/proc/{pid}/{name}", os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.write(fd, _map_text(mappings))
            except OSError as e:
                raise StartError(f"writing {name} ({_map_text(mappings).decode().strip()}): {e.strerror}") from None
            finally:
                os.close(fd)
        return os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(ready_r)
        os.close(hold_w)
        os.waitpid(pid, 0)


def mount_root(rootfs: str, encoded: str | None, bundle: str, userns_fd: int) -> None:
    """The container's root, its image layers idmapped into the user namespace."""
    from ...snapshot import Mount

    stage = f"{bundle}/idmapped"
    os.makedirs(stage, 0o700, exist_ok=True)
    if not encoded:
        libc.idmapped_bind(rootfs, rootfs, userns_fd)
        return
    m = Mount.decode(encoded)
    if m.type == "bind":
        libc.idmapped_bind(m.source, rootfs, userns_fd)
        return
    options = []
    for opt in m.options:
        if opt.startswith("lowerdir="):
            shifted = []
            for i, layer in enumerate(opt[len("lowerdir="):].split(":")):
                source = layer if layer.startswith("/") else f"{m.chdir}/{layer}"
                target = f"{stage}/{i}"
                os.makedirs(target, 0o700, exist_ok=True)
                libc.idmapped_bind(source, target, userns_fd)
                shifted.append(str(i))
            opt = "lowerdir=" + ":".join(shifted)
        options.append(opt)
    os.chdir(stage)
    libc.mount(m.source, rootfs, m.type, 0, ",".join(options))


def enter(userns_fd: int, flags: int, errfd: int) -> None:
    """Steps 3 and 4; returns in PID 1 only."""
    libc.setns(userns_fd, libc.CLONE_NEWUSER)
    os.close(userns_fd)
    os.setgid(0)
    os.setuid(0)
    libc.unshare(flags | libc.CLONE_NEWPID)
    pid = os.fork()
    if pid != 0:
        try:
            os.write(errfd, f"@pid {pid}\n".encode())
        finally:
            os._exit(0)
