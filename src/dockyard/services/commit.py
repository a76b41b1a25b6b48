"""`commit`: a container's changes as a new image (its image's layers plus one).

The new layer is what `diff` lists (services/changes.py), written as a tar with
whiteouts; the config is the image's, with the container's own settings (Cmd,
Entrypoint, Env, WorkingDir, User, Labels, StopSignal) and then the `--change`
instructions applied, and a history entry. Like Docker, a running container is
frozen (its cgroup's freezer) while its changes are read, unless `pause=False`.
"""

from __future__ import annotations

import os
import time

from ..core.clock import now_ns, rfc3339
from ..errors import DockyardError, InvalidArgument

# the container's Config fields an image keeps (Docker copies these over)
_KEPT = ("User", "Env", "Cmd", "Entrypoint", "WorkingDir", "Labels", "StopSignal", "ExposedPorts",
         "Volumes", "OnBuild", "Healthcheck", "Shell")


def commit(engine, ref: str, repo_tag: str | None = None, changes: list[str] | None = None,
           message: str = "", author: str = "", pause: bool = True) -> str:
    """Returns the new image's id."""
    from ..build.image import image_layers, layer_from_changes, read_config, store_image
    from ..image.changes import apply_changes
    from ..oci import reference
    from .changes import container_changes

    tags = [str(reference.parse(repo_tag))] if repo_tag else []
    c = engine.container(ref)
    img = engine._images().by_id(c.image_id)
    if img is None:
        raise DockyardError(f"the image of container {c.id[:12]} is no longer in the store")
    base = read_config(engine, img.id)
    section = dict(base.get("config") or {})
    own = c.config.get("Config") or {}
    for k in _KEPT:
        if k in own and own[k] is not None:
            section[k] = own[k]
    section = apply_changes(section, list(changes or []))
    os.makedirs(engine.layout.root, exist_ok=True)
    with _frozen(c.id, pause and c.state == "running"):
        found = container_changes(engine, c)
        with engine._ingest() as ing:
            layer = layer_from_changes(ing, engine.layout.root, found)
            created = rfc3339(now_ns())
            config = {k: v for k, v in base.items() if k not in ("rootfs", "history", "config")}
            config["created"] = created
            config.pop("author", None)
            config.pop("comment", None)
            if author:
                config["author"] = author
            if message:
                config["comment"] = message
            config["container"] = c.id
            config["config"] = section
            entry = {"created": created, "created_by": c.command}
            if author:
                entry["author"] = author
            if message:
                entry["comment"] = message
            config["history"] = list(base.get("history") or []) + [entry]
            image_id, _ = store_image(ing, config, image_layers(engine, img) + [layer], tags)
    return image_id


class _frozen:
    """Freeze a running container's processes (cgroup freezer, v1 or v2) meanwhile."""

    def __init__(self, cid: str, wanted: bool) -> None:
        self.paths: list[tuple[str, bytes, bytes]] = []
        if not wanted:
            return
        v2 = f"/sys/fs/cgroup/dockyard/{cid}/cgroup.freeze"
        v1 = f"/sys/fs/cgroup/freezer/dockyard/{cid}/freezer.state"
        if os.path.exists("/sys/fs/cgroup/cgroup.controllers") and os.path.exists(v2):
            self.paths.append((v2, b"1", b"0"))
        elif os.path.exists(v1):
            self.paths.append((v1, b"FROZEN", b"THAWED"))

    def _write(self, path: str, value: bytes) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, value)
        finally:
            os.close(fd)

    def __enter__(self) -> "_frozen":
        done = []
        try:
            for path, on, _ in self.paths:
                self._write(path, on)
                done.append(path)
                self._wait(path)
        except OSError as e:
            for path, _, off in self.paths:
                if path in done:
                    self._write(path, off)
            raise InvalidArgument(f"cannot pause the container to commit it: {e.strerror}") from None
        return self

    def _wait(self, path: str) -> None:
        """The v1 freezer passes through FREEZING; wait (briefly) until FROZEN."""
        if not path.endswith("freezer.state"):
            return
        end = time.monotonic() + 5
        while time.monotonic() < end:
            with open(path) as f:
                if f.read().strip() == "FROZEN":
                    return
            time.sleep(0.002)

    def __exit__(self, *exc) -> None:
        for path, _, off in self.paths:
            try:
                self._write(path, off)
            except OSError:
                pass
