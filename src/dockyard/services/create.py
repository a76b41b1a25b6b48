"""`create`: from an image and the caller's options to a container in state Created,
with its bundle (config.json, writable layer, /etc files) on disk.

The container's row is inserted first (it claims the id and the name); if anything
after that fails, the row and the directory go again, leaving the store as it was.
"""

from __future__ import annotations

import os

from ..core import jsonenc
from ..core.files import rmtree, write_file
from ..core.ids import new_id
from ..oci import spec as ocispec
from ..oci.imageconfig import command_for, merge_env
from .options import CreateOptions


def create(engine, image: str, command: list[str] | None, opts: CreateOptions, progress,
           cid: str | None = None):
    from .. import cgroups
    from ..oci.users import resolve_user
    from ..runtime import RUNTIMES
    from ..snapshot import lookup

    opts.validate()
    if opts.runtime not in RUNTIMES:
        from ..errors import InvalidArgument

        raise InvalidArgument(f"unknown or invalid runtime name: {opts.runtime}")
    img = engine.ensure_image(image, progress, opts.pull, opts.platform)
    entrypoint, cmd = command_for(img.entrypoint, img.cmd, opts.entrypoint, command or [])
    cid = cid or new_id()
    hostname = opts.hostname or cid[:12]
    user = opts.user if opts.user is not None else (img.user or "")
    workdir = opts.workdir or img.workdir or "/"
    config_env = merge_env(img.env, opts.env)
    # Docker's order: PATH and HOSTNAME first, then the image's and the caller's
    env = merge_env([f"PATH={ocispec.DEFAULT_PATH}", f"HOSTNAME={hostname}"], config_env)
    stop_signal = opts.stop_signal or img.stop_signal or ""
    labels = opts.labels
    config = {
        "Config": {
            "Hostname": hostname, "Domainname": "", "User": user,
            "AttachStdin": opts.interactive, "AttachStdout": True, "AttachStderr": True,
            "Tty": opts.tty, "OpenStdin": opts.interactive, "StdinOnce": opts.interactive,
            "Env": config_env, "Cmd": cmd or None, "Image": image, "Volumes": None,
            "WorkingDir": opts.workdir or img.workdir or "", "Entrypoint": entrypoint or None,
            "OnBuild": None, "Labels": labels, "StopSignal": stop_signal or None,
        },
        "HostConfig": {"AutoRemove": opts.auto_remove, "Runtime": opts.runtime,
                       **opts.resources.to_host_config()},
    }
    argv = entrypoint + cmd
    containers = engine._containers()
    containers.insert(cid=cid, name=opts.name, image=image, image_id=img.id,
                             command=" ".join(argv), auto_remove=opts.auto_remove,
                             runtime=opts.runtime, config_json=jsonenc.dumps(config))
    home = engine.layout.container(cid)
    try:
        try:
            os.mkdir(home, 0o710)
        except FileNotFoundError:
            os.makedirs(home, 0o710)
        snap = engine._snapshotter()
        mount = snap.prepare(home, img.layers)
        if not os.path.isdir(home + "/rootfs"):
            os.mkdir(home + "/rootfs", 0o755)
        etc = containers.write_bundle_files(home, hostname)
        stack = snap.stack(home, img.layers)
        uid, gid, groups, home_dir = resolve_user(user, lookup.read(stack, "/etc/passwd"),
                                                  lookup.read(stack, "/etc/group"))
        if not any(e.startswith("HOME=") for e in env):
            env.append(f"HOME={home_dir}")
        spec = ocispec.runtime_spec(
            args=argv, env=env, cwd=workdir, uid=uid, gid=gid, additional_gids=groups,
            hostname=hostname, rootfs=home + "/rootfs", mounts=ocispec.default_mounts(etc),
            cgroups_path="/" + cgroups.container_path(cid), resources=opts.resources.to_oci(),
            annotations={ocispec.ANNOTATION_ROOTFS_MOUNT: mount.encode()})
        write_file(home + "/config.json", jsonenc.dumps(spec))
    except BaseException:
        rmtree(home)
        with engine.db.write() as conn:
            conn.execute("DELETE FROM containers WHERE id=?", (cid,))
        raise
    engine._specs[cid] = spec
    return containers.get(cid)
