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
    from .options import log_config

    healthcheck = _healthcheck(engine, img, opts.healthcheck)
    log = log_config(opts.log_driver, opts.log_opts)
    init_path = find_init() if opts.init else None
    config = {
        "Config": {
            "Hostname": hostname, "Domainname": "", "User": user,
            "AttachStdin": opts.interactive and not opts.detach, "AttachStdout": not opts.detach,
            "AttachStderr": not opts.detach, "Tty": opts.tty, "OpenStdin": opts.interactive,
            "StdinOnce": opts.interactive and not opts.detach,
            "Env": config_env, "Cmd": cmd or None, "Image": image, "Volumes": None,
            "WorkingDir": opts.workdir or img.workdir or "", "Entrypoint": entrypoint or None,
            "OnBuild": None, "Labels": labels, "StopSignal": stop_signal or None,
            **({"Healthcheck": healthcheck} if healthcheck else {}),
        },
        "HostConfig": {"AutoRemove": opts.auto_remove, "Runtime": opts.runtime,
                       "CapAdd": opts.cap_add or None, "CapDrop": opts.cap_drop or None,
                       "Privileged": opts.privileged, "SecurityOpt": opts.security_opt or None,
                       "ReadonlyRootfs": opts.read_only, "Tmpfs": opts.tmpfs or None,
                       "GroupAdd": opts.group_add or None, "Devices": opts.devices or None,
                       "Ulimits": opts.ulimits or None, "Sysctls": opts.sysctls or None,
                       "UsernsMode": opts.userns if opts.userns in ("host", "auto") or
                       opts.userns.startswith("auto:") else "",
                       "LogConfig": log, **({"Init": True} if opts.init else {}),
                       "RestartPolicy": dict(zip(("Name", "MaximumRetryCount"), opts.restart_policy())),
                       **opts.resources.to_host_config()},
    }
    argv = entrypoint + cmd
    process_args = [INIT_IN_CONTAINER, "--", *argv] if init_path else argv
    security = _security(engine, opts)  # every flag checked before anything is stored
    containers = engine._containers()
    id_maps: list = []
    if opts.userns not in ("", "host"):
        if opts.runtime != "native":
            from ..errors import InvalidArgument

            raise InvalidArgument(f"--userns={opts.userns} needs the native runtime (its layers are "
                                  f"mounted idmapped); {opts.runtime} cannot run it")

        def config_json(conn) -> str:
            # chosen in the insert's transaction, so two creates cannot take one range
            from .userns import mappings

            import json

            in_use = [m for (text,) in conn.execute(
                "SELECT config FROM containers WHERE config LIKE '%\"IDMappings\"%'")
                for m in (json.loads(text).get("IDMappings") or {}).get("UidMap") or []]
            uids, gids = mappings(opts.userns, in_use)
            id_maps[:] = [uids, gids]
            return jsonenc.dumps({**config, "IDMappings": {"UidMap": uids, "GidMap": gids}})
    else:
        config_json = jsonenc.dumps(config)
    containers.insert(cid=cid, name=opts.name, image=image, image_id=img.id,
                      command=" ".join(argv), auto_remove=opts.auto_remove,
                      runtime=opts.runtime, config_json=config_json, labels=labels)
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
        if id_maps:
            _give_to_mapped_root(home, snap.upper(home) if mount.type == "overlay" else None, etc, id_maps[0][0]["hostID"], id_maps[1][0]["hostID"])
        stack = snap.stack(home, img.layers)
        group_file = lookup.read(stack, "/etc/group")
        uid, gid, groups, home_dir = resolve_user(user, lookup.read(stack, "/etc/passwd"), group_file)
        groups += [g for g in _group_ids(opts.group_add, group_file) if g not in groups]
        if not any(e.startswith("HOME=") for e in env):
            env.append(f"HOME={home_dir}")
        resources = opts.resources.to_oci()
        resources["devices"] = security["device_rules"]
        mounts = ocispec.default_mounts(etc, opts.privileged) + security["tmpfs"]
        if init_path:
            # Docker's place and options for its docker-init (tini): the host's static
            # binary, read-only; the command runs as its child
            mounts.append({"destination": INIT_IN_CONTAINER, "type": "bind", "source": init_path,
                           "options": ["bind", "ro"]})
        spec = ocispec.runtime_spec(
            args=process_args, env=env, cwd=workdir, uid=uid, gid=gid, additional_gids=groups,
            hostname=hostname, rootfs=home + "/rootfs", readonly=opts.read_only, terminal=opts.tty,
            mounts=mounts,
            cgroups_path="/" + cgroups.container_path(cid), resources=resources,
            annotations={ocispec.ANNOTATION_ROOTFS_MOUNT: mount.encode(), **_log_annotations(log)},
            capabilities=security["caps"], no_new_privileges=security["nnp"],
            rlimits=security["rlimits"], seccomp=security["seccomp"],
            masked_paths=security["masked"], readonly_paths=security["readonly"],
            devices=security["devices"], sysctl=opts.sysctls or None,
            id_mappings=(id_maps[0], id_maps[1]) if id_maps else None)
        write_file(home + "/config.json", jsonenc.dumps(spec))
    except BaseException:
        rmtree(home)
        with engine.db.write() as conn:
            conn.execute("DELETE FROM containers WHERE id=?", (cid,))
        raise
    engine._specs[cid] = spec
    c = containers.get(cid)
    c._config = config  # what was just stored (less IDMappings): `run` need not parse it back
    return c


INIT_IN_CONTAINER = "/sbin/docker-init"
# static builds only: the container may have no libc at all (busybox, scratch)
INIT_CANDIDATES = ("/usr/bin/tini-static", "/usr/libexec/docker/docker-init", "/usr/bin/docker-init",
                   "/usr/libexec/podman/catatonit", "/usr/bin/catatonit")


def find_init() -> str:
    """The host's init for `--init`: $DOCKYARD_INIT_PATH, else Debian's tini-static
    (what Docker ships as docker-init), else catatonit (podman's)."""
    from ..errors import StartError

    given = os.environ.get("DOCKYARD_INIT_PATH")
    for path in ((given,) if given else INIT_CANDIDATES):
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    where = given or "docker-init (tini-static, catatonit)"
    raise StartError(f'exec: "{where}": executable file not found: --init needs a static init '
                     f"on the host (apt-get install tini)", exit_code=125)


def _healthcheck(engine, img, given: dict | None) -> dict | None:
    """Config.Healthcheck: the caller's fields over the image's HEALTHCHECK, as Docker
    merges them (a field left at zero takes the image's)."""
    base = _image_healthcheck(engine, img.id)
    if given is None:
        return base
    if not base:
        return given
    merged = dict(given)
    for key in ("Test", "Interval", "Timeout", "StartPeriod", "StartInterval", "Retries"):
        if not merged.get(key) and base.get(key):
            merged[key] = base[key]
    return {k: merged[k] for k in ("Test", "Interval", "Timeout", "StartPeriod", "StartInterval", "Retries")
            if merged.get(k)}


def _image_healthcheck(engine, image_id: str) -> dict | None:
    """The image config's Healthcheck. Not a column: read from the config blob, which
    is parsed only when it names one (most images, and the built-in ones, do not)."""
    try:
        with open(f"{engine.layout.blobs}/sha256/{image_id[7:]}", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    if b'"Healthcheck"' not in raw:
        return None
    hc = (jsonenc.loads(raw.decode()).get("config") or {}).get("Healthcheck")
    if not isinstance(hc, dict):
        return None
    return {k: hc[k] for k in ("Test", "Interval", "Timeout", "StartPeriod", "StartInterval", "Retries")
            if hc.get(k)}


def _log_annotations(log: dict) -> dict[str, str]:
    """What the monitor needs of HostConfig.LogConfig (monitor/logfile.py: open_log):
    it reads the spec, not the container's row."""
    from .options import log_limits

    if log["Type"] == "none":
        return {ocispec.ANNOTATION_LOG_DRIVER: "none"}
    max_size, max_file = log_limits(log["Config"])
    return {ocispec.ANNOTATION_LOG_MAX_SIZE: str(max_size), ocispec.ANNOTATION_LOG_MAX_FILE: str(max_file)}


def _give_to_mapped_root(home: str, upper: str | None, etc: dict[str, str], uid: int, gid: int) -> None:
    """What the container's root must own or reach in a user namespace: its writable
    layer and /etc files; the bundle directory stays closed to everyone else."""
    os.chown(home, 0, gid)  # mode 0710: the mapped root may pass through, not list
    if upper:
        os.chown(upper, uid, gid)
    for path in etc.values():
        os.chown(path, uid, gid)


def _security(engine, opts: CreateOptions) -> dict:
    from ..cgroups.devices import ALLOW_ALL, DEFAULT_RULES
    from ..oci.capabilities import effective_set
    from . import security as sec

    so = sec.SecurityOptions(opts.security_opt)
    engine.warnings.extend(so.warnings)
    caps = effective_set(opts.cap_add, opts.cap_drop, opts.privileged)
    nodes, rules = sec.parse_devices(opts.devices)
    confined = not opts.privileged and so.system_paths != "unconfined"
    return {
        "caps": caps,
        "nnp": so.no_new_privileges and not opts.privileged,
        "seccomp": sec.seccomp_for(so, caps, opts.privileged),
        "rlimits": sec.parse_ulimits(opts.ulimits),
        "devices": (sec.host_devices() if opts.privileged else []) + nodes,
        "device_rules": ALLOW_ALL if opts.privileged else DEFAULT_RULES + rules,
        "masked": ocispec.MASKED_PATHS if confined else (),
        "readonly": ocispec.READONLY_PATHS if confined else (),
        "tmpfs": sec.tmpfs_mounts(opts.tmpfs),
    }


def _group_ids(names: list[str], group_file: bytes | None) -> list[int]:
    """--group-add: numbers, or names from the container's own /etc/group."""
    from ..errors import InvalidArgument

    out = []
    entries = {}
    for line in (group_file or b"").decode(errors="replace").splitlines():
        parts = line.split(":")
        if len(parts) >= 3 and parts[2].isdigit():
            entries[parts[0]] = int(parts[2])
    for n in names:
        if n.isdigit():
            out.append(int(n))
        elif n in entries:
            out.append(entries[n])
        else:
            raise InvalidArgument(f"unable to find group {n}: no matching entries in group file")
    return out
