"""Paths as text: Go's path.Clean, which Docker's rules for build contexts, cp and
.dockerignore patterns are written in terms of."""

from __future__ import annotations


def clean(path: str) -> str:
    """Go's path.Clean: the shortest equivalent path; "" and "./" become "."."""
    if not path:
        return "."
    rooted = path.startswith("/")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(part)
    out = "/".join(parts)
    if rooted:
        return "/" + out
    return out or "."
