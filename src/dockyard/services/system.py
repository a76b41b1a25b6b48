"""`info` and `version`: what this engine is and what the machine gives it."""

from __future__ import annotations

import os
import platform


def version() -> dict:
    from .. import __version__

    return {
        "Version": __version__,
        "ApiVersion": "",
        "PythonVersion": platform.python_version(),
        "Os": "linux",
        "Arch": _go_arch(),
        "KernelVersion": os.uname().release,
    }


def _go_arch() -> str:
    from ..image.hello import host_arch

    return host_arch()


def _os_name() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"


def info(engine) -> dict:
    from .. import cgroups
    from ..core.host import memory_total
    from ..runtime import available

    counts = {s: n for s, n in engine.db.all("SELECT state, COUNT(*) FROM containers GROUP BY state")}
    engine.containers(all=False)  # repair the states of containers whose monitor died
    counts = {s: n for s, n in engine.db.all("SELECT state, COUNT(*) FROM containers GROUP BY state")}
    total = sum(counts.values())
    running = counts.get("running", 0)
    images = engine.db.one("SELECT COUNT(*) FROM images")[0]
    cg = cgroups.manager()
    return {
        "Containers": total,
        "ContainersRunning": running,
        "ContainersPaused": counts.get("paused", 0),
        "ContainersStopped": total - running - counts.get("paused", 0),
        "Images": images,
        "Driver": engine.storage_driver,
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": str(cg.version),
        "Runtimes": available(),
        "DefaultRuntime": "native",
        "KernelVersion": os.uname().release,
        "OperatingSystem": _os_name(),
        "OSType": "linux",
        "Architecture": os.uname().machine,
        "NCPU": os.cpu_count() or 1,
        "MemTotal": memory_total(),
        "Name": os.uname().nodename,
        "DockerRootDir": engine.layout.root,
        "RunRoot": engine.layout.runroot,
        "ServerVersion": version()["Version"],
        "LoggingDriver": "json-file",
    }
