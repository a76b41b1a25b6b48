"""`inspect`: containers and images as Docker's API documents them, so scripts that
read `docker inspect` output read ours."""

from __future__ import annotations

import json

from ..core.clock import rfc3339


def container_document(engine, c) -> dict:
    cfg = c.config
    config = dict(cfg.get("Config") or {})
    host = dict(cfg.get("HostConfig") or {})
    home = engine.layout.container(c.id)
    argv = ((config.get("Entrypoint") or []) + (config.get("Cmd") or []))
    status = {"starting": "created"}.get(c.state, c.state)
    # Docker's State.Running stays true while paused or restarting
    running = c.state in ("running", "paused", "restarting")
    driver = engine.storage_driver
    health = c.health_state
    return {
        "Id": c.id,
        "Created": rfc3339(c.created),
        "Path": argv[0] if argv else "",
        "Args": argv[1:],
        "State": {
            "Status": status,
            "Running": running,
            "Paused": c.state == "paused",
            "Restarting": c.state == "restarting",
            "OOMKilled": bool(c.oom_killed),
            "Dead": False,
            "Pid": c.pid or 0 if running else 0,
            "ExitCode": c.exit_code or 0,
            "Error": c.error or "",
            "StartedAt": rfc3339(c.started if c.state != "created" or c.finished else None),
            "FinishedAt": rfc3339(c.finished),
            **({"Health": health} if health is not None else {}),
        },
        "Image": c.image_id,
        "ResolvConfPath": home + "/resolv.conf",
        "HostnamePath": home + "/hostname",
        "HostsPath": home + "/hosts",
        "LogPath": f"{home}/{c.id}-json.log",
        "Name": "/" + c.name,
        "RestartCount": c.restart_count or 0,
        "Driver": driver,
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": _exec_ids(engine, c),
        "HostConfig": {
            "Binds": None, "ContainerIDFile": "", "LogConfig": host.get("LogConfig") or {"Type": "json-file", "Config": {}},
            "NetworkMode": "none", "PortBindings": {}, "RestartPolicy": host.get("RestartPolicy") or {"Name": "no", "MaximumRetryCount": 0},
            "AutoRemove": bool(host.get("AutoRemove")), "Runtime": host.get("Runtime") or "native",
            **_security_fields(host),
            "Memory": host.get("Memory") or 0, "MemorySwap": host.get("MemorySwap") or 0,
            "NanoCpus": host.get("NanoCpus") or 0, "CpuShares": host.get("CpuShares") or 0,
            "CpuPeriod": host.get("CpuPeriod") or 0, "CpuQuota": host.get("CpuQuota") or 0,
            "CpusetCpus": host.get("CpusetCpus") or "", "CpusetMems": host.get("CpusetMems") or "",
            "PidsLimit": host.get("PidsLimit"), "BlkioWeight": host.get("BlkioWeight") or 0,
            "BlkioDeviceReadBps": host.get("BlkioDeviceReadBps") or [],
            "BlkioDeviceWriteBps": host.get("BlkioDeviceWriteBps") or [],
            **({"Init": host["Init"]} if host.get("Init") is not None else {}),
        },
        "GraphDriver": {
            "Name": driver,
            "Data": ({"UpperDir": home + "/diff", "WorkDir": home + "/work", "MergedDir": home + "/rootfs"}
                     if driver == "overlay2" else {"Dir": home + "/rootfs"}),
        },
        "Mounts": [],
        "Config": config,
        "NetworkSettings": {"Networks": {}, "Ports": {}, "SandboxKey": f"/proc/{c.pid}/ns/net" if running and c.pid else ""},
    }


def _exec_ids(engine, c) -> list[str] | None:
    from .exec import exec_ids

    return exec_ids(engine, c)


def _security_fields(host: dict) -> dict:
    """The isolation settings, in the shapes Docker's inspect gives them."""
    devices = []
    for d in host.get("Devices") or []:
        parts = d.split(":")
        inside = parts[1] if len(parts) > 1 and parts[1].startswith("/") else parts[0]
        perms = parts[-1] if len(parts) > 1 and not parts[-1].startswith("/") else "rwm"
        devices.append({"PathOnHost": parts[0], "PathInContainer": inside, "CgroupPermissions": perms})
    ulimits = []
    for u in host.get("Ulimits") or []:
        name, _, limits = u.partition("=")
        soft, _, hard = limits.partition(":")
        ulimits.append({"Name": name, "Hard": int(hard or soft), "Soft": int(soft)})
    out = {
        "CapAdd": host.get("CapAdd"), "CapDrop": host.get("CapDrop"),
        "GroupAdd": host.get("GroupAdd"), "Privileged": bool(host.get("Privileged")),
        "ReadonlyRootfs": bool(host.get("ReadonlyRootfs")), "SecurityOpt": host.get("SecurityOpt"),
        "UsernsMode": host.get("UsernsMode") or "", "Devices": devices, "Ulimits": ulimits or None,
    }
    if host.get("Tmpfs"):
        out["Tmpfs"] = host["Tmpfs"]
    if host.get("Sysctls"):
        out["Sysctls"] = host["Sysctls"]
    return out


def image_document(engine, img) -> dict:
    from ..oci import reference
    from ..store.blobs import BlobStore

    raw = BlobStore(engine.layout.blobs).read(img.id)
    config = json.loads(raw)
    tags = engine._images().tags_of(img.id)
    digests = sorted({f"{reference.parse(name + ':x').familiar_name}@{digest}" for name, digest in
                      engine.db.all("SELECT name, digest FROM repo_digests WHERE image_id=?", (img.id,))})
    return {
        "Id": img.id,
        "RepoTags": [reference.familiar(t) for t in tags],
        "RepoDigests": digests,
        "Parent": "",
        "Comment": config.get("comment", ""),
        "Created": config.get("created", ""),
        "DockerVersion": config.get("docker_version", ""),
        "Author": config.get("author", ""),
        "Config": config.get("config") or {},
        "Architecture": config.get("architecture", ""),
        "Variant": config.get("variant"),
        "Os": config.get("os", ""),
        "Size": img.size,
        "GraphDriver": {"Name": engine.storage_driver, "Data": None},
        "RootFS": {"Type": "layers", "Layers": img.layers},
        "Metadata": {"LastTagTime": rfc3339(img.loaded)},
    }
