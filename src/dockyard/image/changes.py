"""`--change` instructions (`import -c 'CMD ["x"]'`, later `commit -c`): the
Dockerfile instructions that only edit an image's config.

Supported, as Docker supports them for import and commit: CMD, ENTRYPOINT, ENV,
EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR.
"""

from __future__ import annotations

import json
import shlex

from ..errors import InvalidArgument

ALLOWED = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "ONBUILD", "STOPSIGNAL", "USER",
           "VOLUME", "WORKDIR")


def _json_or_shell(args: str, shell: bool) -> list[str]:
    """Exec form (a JSON array of strings) or shell form (run by /bin/sh -c)."""
    s = args.strip()
    if s.startswith("["):
        try:
            v = json.loads(s)
        except ValueError:
            v = None
        if isinstance(v, list) and all(isinstance(x, str) for x in v):
            return v
    if not shell:
        return shlex.split(s)
    return ["/bin/sh", "-c", s]


def _pairs(instruction: str, args: str) -> list[tuple[str, str]]:
    """`K=V K2="v 2"` or the legacy `K value with spaces`."""
    try:
        words = shlex.split(args, posix=True)
    except ValueError as e:
        raise InvalidArgument(f"{instruction}: {e}") from None
    if not words:
        raise InvalidArgument(f"{instruction} requires at least one argument")
    if "=" not in words[0]:
        key, _, value = args.strip().partition(" ")
        if not value.strip():
            raise InvalidArgument(f"{instruction} names {key!r} without a value")
        return [(key, value.strip())]
    out = []
    for w in words:
        k, eq, v = w.partition("=")
        if not eq or not k:
            raise InvalidArgument(f"{instruction}: {w!r} is not KEY=VALUE")
        out.append((k, v))
    return out


def apply_changes(config: dict, changes: list[str]) -> dict:
    """Apply each change to an image's `config` section (Docker's names); returns it."""
    for change in changes:
        line = change.strip()
        instruction, _, args = line.partition(" ")
        instruction = instruction.upper()
        if instruction not in ALLOWED:
            raise InvalidArgument(f"{line.split(' ')[0]} is not a valid change command")
        args = args.strip()
        if instruction == "CMD":
            config["Cmd"] = _json_or_shell(args, shell=True)
        elif instruction == "ENTRYPOINT":
            config["Entrypoint"] = _json_or_shell(args, shell=True)
        elif instruction == "ENV":
            env = [e for e in config.get("Env") or []]
            for k, v in _pairs("ENV", args):
                env = [e for e in env if e.split("=", 1)[0] != k] + [f"{k}={v}"]
            config["Env"] = env
        elif instruction == "LABEL":
            labels = dict(config.get("Labels") or {})
            labels.update(_pairs("LABEL", args))
            config["Labels"] = labels
        elif instruction == "EXPOSE":
            ports = dict(config.get("ExposedPorts") or {})
            for p in args.split():
                port, _, proto = p.partition("/")
                if not port.isdigit() or proto not in ("", "tcp", "udp", "sctp"):
                    raise InvalidArgument(f"invalid containerPort: {p}")
                ports[f"{port}/{proto or 'tcp'}"] = {}
            config["ExposedPorts"] = ports
        elif instruction == "VOLUME":
            vols = dict(config.get("Volumes") or {})
            for v in _json_or_shell(args, shell=False):
                vols[v] = {}
            config["Volumes"] = vols
        elif instruction == "WORKDIR":
            if not args:
                raise InvalidArgument("WORKDIR requires exactly one argument")
            config["WorkingDir"] = args
        elif instruction == "USER":
            if not args:
                raise InvalidArgument("USER requires exactly one argument")
            config["User"] = args
        elif instruction == "STOPSIGNAL":
            config["StopSignal"] = args
        elif instruction == "ONBUILD":
            config["OnBuild"] = [*(config.get("OnBuild") or []), args]
    return config
