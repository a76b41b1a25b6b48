"""Platforms (`linux/amd64`, `linux/arm64/v8`): parsing, this machine's, and the
rule for picking an image index entry."""

from __future__ import annotations

import os

from ..errors import InvalidArgument

_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm",
         "armv6l": "arm", "i686": "386", "i386": "386", "ppc64le": "ppc64le", "s390x": "s390x",
         "riscv64": "riscv64"}
_DEFAULT_VARIANT = {"arm64": "v8", "arm": "v7"}


class Platform:
    __slots__ = ("os", "architecture", "variant")

    def __init__(self, os_name: str, architecture: str, variant: str = "") -> None:
        self.os = os_name
        self.architecture = architecture
        self.variant = variant

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)

    def matches(self, desc: dict | None) -> bool:
        """Whether an index entry's `platform` (or an image config) is this platform."""
        if not desc:
            return False
        if desc.get("os") != self.os or desc.get("architecture") != self.architecture:
            return False
        theirs = desc.get("variant") or _DEFAULT_VARIANT.get(self.architecture, "")
        mine = self.variant or _DEFAULT_VARIANT.get(self.architecture, "")
        return theirs == mine or not desc.get("variant") and not self.variant


def host() -> Platform:
    machine = os.uname().machine
    arch = _ARCH.get(machine, machine)
    variant = "v6" if machine == "armv6l" else ""
    return Platform("linux", arch, variant)


def parse(text: str | None) -> Platform:
    if not text:
        return host()
    parts = text.strip().lower().split("/")
    if len(parts) == 1:
        parts = ["linux", parts[0]]
    if len(parts) > 3 or not all(parts):
        raise InvalidArgument(f"invalid platform {text!r}: want os/arch[/variant], e.g. linux/arm64")
    os_name, arch = parts[0], _ARCH.get(parts[1], parts[1])
    return Platform(os_name, arch, parts[2] if len(parts) == 3 else "")
