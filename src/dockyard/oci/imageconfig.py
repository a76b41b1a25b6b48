"""Image configs and the rules by which they drive `run`.

An image config (OCI image spec, `application/vnd.oci.image.config.v1+json`, and
Docker's identical v1 config) holds the startup command (Entrypoint, Cmd), the
environment, working directory and user; `run` combines them with the user's flags
by Docker's rules, implemented here once.
"""

from __future__ import annotations

from ..errors import InvalidArgument


def command_for(entrypoint: list[str] | None, cmd: list[str] | None,
                entrypoint_override: str | None, args: list[str]) -> tuple[list[str], list[str]]:
    """Docker's rule for the process to run: returns (Entrypoint, Cmd) of the container.

    - `--entrypoint X` replaces the image's Entrypoint and discards its Cmd;
      `--entrypoint ""` clears the Entrypoint.
    - arguments after the image replace the image's Cmd.
    The process is Entrypoint + Cmd; an empty result is an error.
    """
    if entrypoint_override is not None:
        ep = [entrypoint_override] if entrypoint_override else []
        c = list(args)
    else:
        ep = list(entrypoint or [])
        c = list(args) if args else list(cmd or [])
    if not ep and not c:
        raise InvalidArgument("no command specified")
    return ep, c


def merge_env(base: list[str], overrides: list[str]) -> list[str]:
    """Later `KEY=value` entries replace earlier ones with the same key, keeping order."""
    out: dict[str, str] = {}
    for item in (*base, *overrides):
        key = item.split("=", 1)[0]
        out.pop(key, None)
        out[key] = item
    return list(out.values())


def new_config(*, architecture: str, created: str, diff_ids: list[str],
               config: dict | None = None, history: list[dict] | None = None,
               os_name: str = "linux", author: str = "", comment: str = "") -> dict:
    """A fresh image config with Docker's keys (Docker writes `container_config` too;
    the OCI spec does not require it and Dockyard leaves it out)."""
    doc: dict = {"architecture": architecture, "os": os_name, "created": created}
    if author:
        doc["author"] = author
    if comment:
        doc["comment"] = comment
    doc["config"] = config or {}
    doc["rootfs"] = {"type": "layers", "diff_ids": list(diff_ids)}
    doc["history"] = history or []
    return doc


def runtime_fields(config: dict) -> dict:
    """The part of an image config that `run` reads, with Docker's names."""
    c = config.get("config") or {}
    return {
        "Cmd": c.get("Cmd"),
        "Entrypoint": c.get("Entrypoint"),
        "Env": c.get("Env") or [],
        "WorkingDir": c.get("WorkingDir") or "",
        "User": c.get("User") or "",
        "StopSignal": c.get("StopSignal") or "",
    }
