"""Where `save` and `export` write their tar: a file given with -o (written beside
it and renamed, so a failed command leaves no half archive), else stdout, which
must not be a terminal (Docker's rule)."""

from __future__ import annotations

import os
import sys

from ..errors import InvalidArgument


def write_archive(output: str | None, write) -> None:
    """Call `write(binary_stream)` on the destination."""
    if output:
        tmp = output + ".tmp-dockyard"
        try:
            with open(tmp, "wb") as f:
                write(f)
            os.replace(tmp, output)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return
    if sys.stdout.isatty():
        raise InvalidArgument("cowardly refusing to save to a terminal. Use the -o flag or redirect")
    write(sys.stdout.buffer)
