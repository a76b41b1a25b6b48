"""The Engine: Dockyard's importable Python API, and the only thing the CLI calls.

::

    from dockyard import Engine

    engine = Engine()                                  # /var/lib/dockyard, no daemon
    result = engine.run("busybox", ["echo", "hi there"])
    print(result.exit_code, result.stdout)             # 0 b'hi there\\n'
    engine.remove(result.id)

Each method opens what it needs, does one operation with the store's locking rules,
and returns plain objects; nothing stays running in this process. Containers are
named by full id, unique id prefix, or name everywhere.
"""

from __future__ import annotations

import os

from ..core.layout import Layout
from ..errors import DockyardError, ImageNotFound, InvalidArgument, StartError
from .options import CreateOptions


class RunResult:
    """What `Engine.run` returns for an attached run."""

    __slots__ = ("id", "exit_code", "stdout", "stderr")

    def __init__(self, cid: str, exit_code: int, stdout: bytes | None, stderr: bytes | None) -> None:
        self.id = cid
        self.exit_code = exit_code
        self.stdout = stdout
        self.stderr = stderr

    def __repr__(self) -> str:
        return f"RunResult(id={self.id[:12]!r}, exit_code={self.exit_code})"


class Attached:
    """A started container whose output goes to the caller; `wait()` gives its exit code."""

    def __init__(self, cid: str, pid: int, status_fd: int, reader: "_Lines") -> None:
        self.id = cid
        self.pid = pid
        self._fd = status_fd
        self._lines = reader

    def wait(self) -> int:
        try:
            while True:
                line = self._lines.next()
                if line is None:
                    raise StartError("the container's monitor exited without reporting an exit code")
                kind, _, rest = line.partition(" ")
                if kind == "exit":
                    return int(rest)
                if kind == "error":
                    code, _, msg = rest.partition(" ")
                    raise StartError(msg, exit_code=int(code))
        finally:
            self.close()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class _Lines:
    """Line reader over a pipe (the monitor's status messages)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buf = b""

    def next(self) -> str | None:
        while b"\n" not in self.buf:
            chunk = os.read(self.fd, 4096)
            if not chunk:
                return None
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.decode(errors="replace")


class Engine:
    def __init__(self, root: str | None = None, runroot: str | None = None) -> None:
        self.layout = Layout(root, runroot)
        self._db = None
        self._specs: dict[str, dict] = {}
        self._driver: str | None = None
        self.warnings: list[str] = []

    # ---- plumbing -------------------------------------------------------------

    @property
    def db(self):
        """The store's database, opened on first use (and closed before any fork)."""
        if self._db is None:
            from ..store.db import Database

            self._db = Database(self.layout.db)
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def storage_driver(self) -> str:
        if self._driver is None:
            row = self.db.one("SELECT value FROM meta WHERE key='storage_driver'")
            if row is None:
                from ..snapshot import default_driver
                from ..snapshot.overlay import probe

                driver = default_driver()
                if driver == "overlay2" and not os.environ.get("DOCKYARD_STORAGE_DRIVER"):
                    os.makedirs(self.layout.root, exist_ok=True)
                    if not probe(self.layout.root):
                        driver = "vfs"
                with self.db.write() as c:
                    c.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('storage_driver', ?)", (driver,))
                row = self.db.one("SELECT value FROM meta WHERE key='storage_driver'")
            self._driver = row[0]
        return self._driver

    def _snapshotter(self):
        from .. import snapshot

        return snapshot.get(self.storage_driver, self.layout.layers)

    def _containers(self):
        from .containers import Containers

        return Containers(self.layout, self.db)

    def _images(self):
        from ..image.images import ImageStore

        return ImageStore(self.db)

    def _ingest(self):
        from ..image.ingest import Ingest
        from ..image.layers import LayerStore
        from ..store.blobs import BlobStore

        return Ingest(self.layout.root, self.db, BlobStore(self.layout.blobs),
                      LayerStore(self.layout.layers, self._snapshotter().whiteouts))

    @staticmethod
    def arch() -> str:
        from ..image.hello import host_arch

        return host_arch()

    # ---- images ---------------------------------------------------------------

    def image(self, ref: str):
        """An image by reference or id (ImageNotFound if it is not in the store)."""
        return self._images().lookup(ref)

    def images(self):
        """[(Image, [full tags])] of every stored image, newest first."""
        return self._images().all()

    def ensure_image(self, text: str, progress=None, pull: str = "missing", platform: str | None = None):
        """The image for `run`/`create`, by Docker's `--pull` policy: from the store
        ("missing": else from the image sources, the built-in images and then the
        reference's registry; "always": from the registry first; "never": store only).
        `progress` (a registry.pull.Progress) hears "Unable to find image ... locally"
        first, as Docker prints it, then the pull."""
        from ..oci import reference

        images = self._images()
        if pull not in ("missing", "always", "never"):
            raise InvalidArgument(f'invalid pull option: "{pull}": must be one of "missing", "always", or "never"')
        if pull != "always":
            img = images.find(text)
            if img is not None:
                return img
        ref = reference.parse(text)
        if pull == "never":
            raise ImageNotFound(f"No such image: {ref.familiar}")
        from ..image.resolve import RegistrySource, default_sources

        sources = [RegistrySource()] if pull == "always" else default_sources()
        if progress is not None and pull != "always":
            progress.status(f"Unable to find image '{ref.familiar}' locally")
        for source in sources:
            if source.provides(ref, platform):
                source.provide(self, ref, progress, platform)
                img = images.by_tag(str(ref)) if ref.tag else images.find(text)
                if img is not None:
                    return img
        raise ImageNotFound(f"No such image: {ref.familiar}")

    def load(self, fileobj):
        """Load a `docker save` archive or an OCI image layout tarball."""
        from ..image import archive

        os.makedirs(self.layout.root, exist_ok=True)
        return archive.load(self._ingest, fileobj, self.layout.root, self.arch())

    def import_image(self, fileobj, tag: str | None = None, changes: list[str] | None = None,
                     message: str = "", source_name: str = "-") -> str:
        """A one-layer image from a root file system tarball; returns its id."""
        from ..image import archive

        os.makedirs(self.layout.root, exist_ok=True)
        return archive.import_rootfs(self._ingest, fileobj, self.layout.root, tag=tag,
                                     changes=changes or [], message=message,
                                     source_name=source_name, arch=self.arch())

    def remove_image(self, ref: str, force: bool = False) -> list[tuple[str, str]]:
        """`rmi`: returns [("Untagged", name) | ("Deleted", id)] in order."""
        from .images import remove_image

        return remove_image(self, ref, force)

    def pull(self, ref: str, platform: str | None = None, progress=None) -> tuple[str, str, bool]:
        """Pull from a registry: (image id, normalised reference, whether the tag moved)."""
        from .registry import pull

        return pull(self, ref, platform, progress)

    def push(self, ref: str, progress=None) -> tuple[str, int]:
        """Push a tagged image: (manifest digest, manifest size)."""
        from .registry import push

        return push(self, ref, progress)

    def login(self, server: str | None, user: str, password: str) -> str:
        from .registry import login

        return login(server, user, password)

    def logout(self, server: str | None) -> tuple[str, bool]:
        from .registry import logout

        return logout(server)

    def tag(self, source: str, target: str) -> None:
        from .images import tag

        tag(self, source, target)

    def history(self, ref: str) -> list[dict]:
        from .images import history

        return history(self, ref)

    def save(self, refs: list[str], out) -> None:
        """Write images as one tar (docker-archive and OCI image layout) to `out`."""
        from .images import save

        save(self, refs, out)

    def export(self, ref: str, out) -> None:
        """Write a container's root file system as a tar to `out`."""
        from .export import export

        export(self, ref, out)

    def inspect_image(self, ref: str) -> dict:
        from .inspect import image_document

        return image_document(self, self.image(ref))

    # ---- containers -----------------------------------------------------------

    def container(self, ref: str):
        return self._containers().get(ref)

    def containers(self, all: bool = False):
        return self._containers().list(all=all)

    def create(self, image: str, command: list[str] | None = None,
               options: CreateOptions | None = None, *, progress=None):
        """Create a container (state Created); returns it. Nothing runs yet."""
        from .create import create

        return create(self, image, command, options or CreateOptions(), progress)

    def start(self, ref: str, *, attach: bool = False, stdout: int = 1, stderr: int = 2,
              stdin: int | None = None) -> Attached | None:
        """Start a container. With `attach`, its output goes to the `stdout`/`stderr`
        descriptors and an Attached handle is returned; otherwise it runs detached.
        Raises StartError (exit_code 125/126/127) if its command cannot run."""
        from .start import start

        return start(self, ref, attach=attach, stdout=stdout, stderr=stderr, stdin=stdin)

    def run(self, image: str, command: list[str] | None = None, *, detach: bool = False,
            stdout: int | None = None, stderr: int | None = None, stdin: int | None = None,
            progress=None, options: CreateOptions | None = None, **kwargs):
        """create + start. Detached: returns the Container. Attached: waits and returns
        a RunResult; output is captured unless `stdout`/`stderr` descriptors are given.
        Options are CreateOptions' keywords (name=, env=, auto_remove=, resources=...)."""
        from .start import run

        opts = options or CreateOptions(**kwargs)
        if detach:
            cid, _ = run(self, image, command, opts, detach=True, stdin=stdin, progress=progress)
            return self.container(cid)
        if stdout is not None and stderr is not None:
            cid, handle = run(self, image, command, opts, detach=False, stdout=stdout, stderr=stderr,
                              stdin=stdin, progress=progress)
            return RunResult(cid, handle.wait(), None, None)
        return _run_captured(self, image, command, opts, stdout, stderr, stdin, progress)

    def stop(self, ref: str, timeout: int | None = None) -> None:
        from .signals import stop_signal

        c = self.container(ref)
        sig = stop_signal(c.config.get("Config", {}).get("StopSignal") or "")
        self._containers().stop(c, timeout, sig)

    def kill(self, ref: str, signal: str | int = "KILL") -> None:
        from .signals import parse_signal

        c = self.container(ref)
        self._containers().signal(c, parse_signal(signal))

    def wait(self, ref: str) -> int:
        """Block until the container is not running; its exit code."""
        cs = self._containers()
        c = cs.get(ref)
        cs.wait_exit(c)
        try:
            return cs.get(c.id).exit_code or 0
        except DockyardError:
            return c.exit_code or 0

    def remove(self, ref: str, force: bool = False) -> None:
        cs = self._containers()
        cs.remove(cs.get(ref), force)

    def logs(self, ref: str, tail: int | None = None):
        """[(stream, text, time)] the container has printed so far."""
        from ..monitor.logfile import read_records

        cs = self._containers()
        records = read_records(cs.log_path(cs.get(ref)))
        if tail is None or tail < 0:
            return list(records)
        from collections import deque

        return list(deque(records, maxlen=tail)) if tail else []

    def log_path(self, ref: str) -> str:
        cs = self._containers()
        return cs.log_path(cs.get(ref))

    def inspect_container(self, ref: str) -> dict:
        from .inspect import container_document

        return container_document(self, self.container(ref))

    # ---- system ---------------------------------------------------------------

    def prune_containers(self) -> tuple[list[str], int]:
        from .prune import prune_containers

        return prune_containers(self)

    def prune_images(self, all: bool = False) -> tuple[list[tuple[str, str]], int]:
        from .prune import prune_images

        return prune_images(self, all=all)

    def info(self) -> dict:
        from .system import info

        return info(self)

    def version(self) -> dict:
        from .system import version

        return version()


def _run_captured(engine: Engine, image: str, command, opts, stdout: int | None, stderr: int | None,
                  stdin: int | None, progress) -> RunResult:
    """Attach to pipes of our own and collect what the container prints."""
    import select
    from .start import run

    pipes: dict[int, str] = {}
    out_fd, err_fd = stdout, stderr
    if stdout is None:
        r, out_fd = os.pipe2(os.O_CLOEXEC)
        pipes[r] = "stdout"
    if stderr is None:
        r, err_fd = os.pipe2(os.O_CLOEXEC)
        pipes[r] = "stderr"
    try:
        cid, handle = run(engine, image, command, opts, detach=False, stdout=out_fd, stderr=err_fd,
                          stdin=stdin, progress=progress)
    except BaseException:
        for fd in pipes:
            os.close(fd)
        raise
    finally:
        if stdout is None:
            os.close(out_fd)
        if stderr is None:
            os.close(err_fd)
    chunks: dict[str, list[bytes]] = {"stdout": [], "stderr": []}
    try:
        while pipes:
            ready, _, _ = select.select(list(pipes), [], [])
            for fd in ready:
                data = os.read(fd, 65536)
                if data:
                    chunks[pipes[fd]].append(data)
                else:
                    os.close(fd)
                    del pipes[fd]
    finally:
        for fd in pipes:
            os.close(fd)
    code = handle.wait()
    return RunResult(cid, code, b"".join(chunks["stdout"]) if stdout is None else None,
                     b"".join(chunks["stderr"]) if stderr is None else None)
