"""The one exception hierarchy of Dockyard, importable from every layer.

Library code raises these; only the frontends (the CLI now, the Engine API server
later) turn them into an exit code and one line on stderr, or an HTTP status::

    DockyardError                       125 / 500   an engine error
    ├── InvalidArgument                 125 / 400   bad flag or value; nothing was changed
    ├── NotFound                          1 / 404
    │   ├── ImageNotFound                             "No such image: x"
    │   └── ContainerNotFound                         "No such container: x"
    ├── Conflict                          1 / 409   name in use, container running, image in use
    ├── Unauthorized                      1 / 401   a registry refused the credentials
    ├── InvalidImage                      1 / 400   corrupt, truncated or hostile archive or layer
    ├── Unavailable                       1 / 503   a registry, kernel feature or tool out of reach
    ├── KernelError                     125 / 500   a syscall failed: names the call and the path
    └── StartError                  125-127 / 500   the container's process could not be started

`exit_code` is what `docker run` would exit with for the error (125, or 126/127 when
the command cannot be invoked / is not found); `pull`, `push` and `login` exit with
it too (a registry fault is an engine error: 125). `status` is what other commands
exit with, since the docker CLI exits 1 for a daemon error outside `run`.
"""

from __future__ import annotations


class DockyardError(Exception):
    """Base of every error the engine raises on purpose."""

    exit_code = 125
    status = 1
    http_status = 500

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


class InvalidArgument(DockyardError):
    """A flag or value is wrong; Docker treats these as usage errors (125)."""

    status = 125
    http_status = 400


class NotFound(DockyardError):
    http_status = 404


class ImageNotFound(NotFound):
    pass


class ContainerNotFound(NotFound):
    pass


class Conflict(DockyardError):
    http_status = 409


class Unauthorized(DockyardError):
    http_status = 401


class InvalidImage(DockyardError):
    """An image, archive or layer is corrupt, truncated, or tries to leave its root."""

    http_status = 400


class Unavailable(DockyardError):
    http_status = 503


class KernelError(DockyardError):
    """A system call failed; the message names the call and the path, as crun does."""

    def __init__(self, call: str, path: str | None, errno: int, strerror: str | None = None) -> None:
        import os

        self.call = call
        self.path = path
        self.errno = errno
        what = f"{call} {path}" if path else call
        super().__init__(f"{what}: {strerror or os.strerror(errno)}")


class StartError(DockyardError):
    """The container's command could not be started (126: cannot invoke, 127: not found)."""


class HookError(DockyardError):
    """An OCI hook failed, timed out, or could not be run."""
