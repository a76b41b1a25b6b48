"""`dockyard-runtime spec`: a starting config.json for a bundle, as `runc spec`
writes one: `sh` in `rootfs/`, read-only, Docker's masked and read-only paths, a
device cgroup that denies everything but the default nodes, few capabilities."""

from __future__ import annotations

import json
import os

from ...errors import Conflict
from ...oci import spec as ocispec

_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]


def default_spec() -> dict:
    return {
        "ociVersion": "1.3.0",
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": [f"PATH={ocispec.DEFAULT_PATH}", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {k: list(_CAPS) for k in ("bounding", "effective", "permitted")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "dockyard",
        "mounts": [m for m in ocispec.default_mounts({}) if m["destination"] != "/dev/shm"] + [
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}],
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount", "cgroup")],
            "maskedPaths": list(ocispec.MASKED_PATHS),
            "readonlyPaths": list(ocispec.READONLY_PATHS),
        },
    }


def write_default_spec(bundle: str) -> str:
    path = os.path.join(bundle, "config.json")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise Conflict(f"{path} already exists: remove it first") from None
    with os.fdopen(fd, "w") as f:
        json.dump(default_spec(), f, indent=2)
        f.write("\n")
    return path
