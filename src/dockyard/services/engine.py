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
        """Chosen once per store and recorded in its database; a copy in
        <root>/storage-driver lets a pull start unpacking before it opens the database."""
        if self._driver is None:
            try:
                with open(self.layout.driver_file) as f:
                    name = f.read().strip()
                if name in ("overlay2", "vfs"):
                    self._driver = name
                    return name
            except OSError:
                pass
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
            from ..core.files import atomic_write

            try:
                atomic_write(self.layout.driver_file, self._driver)
            except OSError:
                pass  # a store this user may read but not write
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

        return Ingest(self.layout.root, lambda: self.db, BlobStore(self.layout.blobs),
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
        result = archive.load(self._ingest, fileobj, self.layout.root, self.arch())
        from .images import _image_event

        for image_id, _tags in result.loaded:
            _image_event(self, "load", image_id)
        return result

    def import_image(self, fileobj, tag: str | None = None, changes: list[str] | None = None,
                     message: str = "", source_name: str = "-") -> str:
        """A one-layer image from a root file system tarball; returns its id."""
        from ..image import archive

        os.makedirs(self.layout.root, exist_ok=True)
        image_id = archive.import_rootfs(self._ingest, fileobj, self.layout.root, tag=tag,
                                         changes=changes or [], message=message,
                                         source_name=source_name, arch=self.arch())
        from .images import _image_event

        _image_event(self, "import", image_id)
        return image_id

    def remove_image(self, ref: str, force: bool = False) -> list[tuple[str, str]]:
        """`rmi`: returns [("Untagged", name) | ("Deleted", id)] in order."""
        from .images import remove_image

        return remove_image(self, ref, force)

    def pull(self, ref: str, platform: str | None = None, progress=None) -> tuple[str, str, bool]:
        """Pull from a registry: (image id, normalised reference, whether the tag moved)."""
        from .registry import pull

        return pull(self, ref, platform, progress)

    def pull_all_tags(self, repo: str, platform: str | None = None, progress=None) -> tuple[str, bool]:
        """Pull every tag of a repository: (its full name, whether any tag moved)."""
        from .registry import pull_all_tags

        return pull_all_tags(self, repo, platform, progress)

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
              stdin: int | None = None, console_size: tuple[int, int] | None = None) -> Attached | None:
        """Start a container. With `attach`, its output goes to the `stdout`/`stderr`
        descriptors and an Attached handle is returned; otherwise it runs detached.
        A container with a terminal (-t) is attached through `handle.conn` (a
        monitor.attach.Connection) instead, its pty first sized `console_size`.
        Raises StartError (exit_code 125/126/127) if its command cannot run."""
        from .start import start

        return start(self, ref, attach=attach, stdout=stdout, stderr=stderr, stdin=stdin,
                     console_size=console_size)

    def attach(self, ref: str, *, stdin: bool = True, stdout: bool = True, stderr: bool = True):
        """Attach to a running container through its monitor: (Container, Connection)."""
        from .start import attach

        return attach(self, ref, stdin=stdin, stdout=stdout, stderr=stderr)

    def revive_after_boot(self) -> None:
        """Once per boot (a marker in the runroot, a tmpfs): bring back the containers
        whose restart policy says so (services/revive.py). One stat otherwise."""
        if not os.path.exists(self.layout.runroot + "/booted"):
            from .revive import revive

            revive(self)

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
            if handle.conn is not None:  # a terminal: its output comes over the attach socket
                from .start import read_output

                read_output(handle.conn, lambda fd, data: _write_fd(stdout if fd == 1 else stderr, data))
            return RunResult(cid, handle.wait(), None, None)
        return _run_captured(self, image, command, opts, stdout, stderr, stdin, progress)

    def stop(self, ref: str, timeout: int | None = None, signal: str | int | None = None) -> None:
        """Docker's stop: the container's StopSignal (or `signal`), up to `timeout`
        seconds (default: Config.StopTimeout, else 10; negative: wait for ever), then
        SIGKILL. A container that is not running is left alone. Its restart policy
        leaves it stopped until it is started again."""
        from .signals import parse_signal

        sig = parse_signal(signal) if signal not in (None, "") else None
        cs = self._containers()
        cs.stop(cs.get(ref), timeout, sig)

    def kill(self, ref: str, signal: str | int = "KILL") -> None:
        """Send a signal (name with or without SIG, or number); SIGKILL also waits for the exit."""
        from .signals import parse_signal

        sig = parse_signal(signal)
        cs = self._containers()
        cs.kill(cs.get(ref), sig, ref)

    def restart(self, ref: str, timeout: int | None = None, signal: str | int | None = None) -> None:
        """stop (if running), then start; recorded as a `restart` event."""
        from .containers import UP
        from .events import record_container
        from .signals import parse_signal

        sig = parse_signal(signal) if signal not in (None, "") else None
        cs = self._containers()
        c = cs.get(ref)
        try:
            if c.state in UP:
                cs.stop(c, timeout, sig)
            with self.db.write() as conn:  # started by hand: the restart policy applies again
                conn.execute("UPDATE containers SET manual_stop=0, restart_count=0 WHERE id=?", (c.id,))
            self.start(c.id)
            cs = self._containers()  # starting closed the database (no connection crosses a fork)
            record_container(self.db, cs.reload(c), "restart")
        except DockyardError as e:
            raise DockyardError(f"Cannot restart container {ref}: {e.message}") from None

    def pause(self, ref: str) -> None:
        """Freeze the container's processes (freezer cgroup): state paused."""
        cs = self._containers()
        cs.pause(cs.get(ref))

    def unpause(self, ref: str) -> None:
        cs = self._containers()
        cs.unpause(cs.get(ref))

    def rename(self, ref: str, new_name: str) -> None:
        self._containers().rename(ref, new_name)

    def top(self, ref: str, ps_args: list[str] | None = None) -> tuple[list[str], list[list[str]]]:
        """The container's processes as the host's `ps` shows them: (titles, rows)."""
        from .stats import top

        cs = self._containers()
        c = cs.get(ref)
        return top(self, c, cs.processes(c), ps_args)

    def port(self, ref: str, private: str | None = None) -> list[str]:
        """Published ports: ["80/tcp -> 0.0.0.0:8080", ...], or for one private port
        ["0.0.0.0:8080"] (NotFound-style error if it is not published)."""
        from .stats import port

        return port(self, self.container(ref), ref, private)

    def stats(self, refs: list[str] | None = None, all: bool = False, interval: float = 1.0):
        """Resource usage: see services/stats.py (Sampler)."""
        from .stats import Sampler

        return Sampler(self, refs, all, interval)

    def events(self, since: int | None = None, until: int | None = None,
               filters: dict[str, list[str]] | None = None, after: int = 0) -> tuple[list, int]:
        """Logged events (store/events.py) with sequence numbers above `after`, in
        [since, until] (ns), matching Docker's filters ({key: [values]}); returns them
        and the last sequence number looked at (pass it as `after` to follow)."""
        from .events import read

        return read(self, after, since, until, filters)

    def list_containers(self, all: bool = False, filters: dict[str, list[str]] | None = None,
                        last: int = -1):
        """`ps`: Docker's selection and order (newest first), filters as {key: [values]}."""
        from .containers import select

        return select(self, self._containers(), filters, all, last)

    def container_size(self, ref: str) -> tuple[int, int]:
        """(SizeRw, SizeRootFs) of a container, as `ps -s` and `inspect -s` show them."""
        from .containers import sizes

        return sizes(self, self.container(ref))

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

    def logs(self, ref: str, tail: int | None = None, since: int | None = None,
             until: int | None = None):
        """[(stream, text, time)] the container has printed so far, across rotated
        files: the last `tail` (None: all), then those from `since` to `until` (ns)."""
        from ..monitor.logfile import select_records

        return select_records(self.log_path(ref), tail, since, until)

    def log_path(self, ref: str) -> str:
        """The container's current json-file log (rotated ones: `.1`, `.2`, ...)."""
        cs = self._containers()
        c = cs.get(ref)
        if ((c.config.get("HostConfig") or {}).get("LogConfig") or {}).get("Type") == "none":
            raise DockyardError("configured logging driver does not support reading")
        return cs.log_path(c)

    def inspect_container(self, ref: str) -> dict:
        from .inspect import container_document

        return container_document(self, self.container(ref))

    # ---- exec (services/exec.py) ----------------------------------------------

    def exec(self, ref: str, cmd: list[str], *, tty: bool = False, stdin: int | None = None,
             stdout: int = 1, stderr: int = 2, env: list[str] | None = None, workdir: str | None = None,
             user: str | None = None, privileged: bool = False, detach: bool = False) -> int:
        """`docker exec`: run `cmd` in the running container and return its exit code
        (detached: 0 once it runs; its exit code is recorded, see exec_inspect).
        Output goes to the `stdout`/`stderr` descriptors, input comes from `stdin`
        (None: none); with `tty` through a pty made in the container. `env` items are
        K=V (set) or K (unset). Raises Conflict when the container is not running,
        StartError (exit_code 126/127) when `cmd` cannot be run."""
        proc = self.exec_start(ref, cmd, tty=tty, stdin=stdin, stdout=stdout, stderr=stderr, env=env,
                               workdir=workdir, user=user, privileged=privileged, detach=detach)
        if detach:
            return 0
        if tty:
            code = proc.pump(stdin, stdout)
            return 0 if code is None else code
        return proc.wait()

    def exec_start(self, ref: str, cmd: list[str], *, tty: bool = False, stdin: int | None = None,
                   stdout: int = 1, stderr: int = 2, env: list[str] | None = None,
                   workdir: str | None = None, user: str | None = None, privileged: bool = False,
                   detach: bool = False, console_size: tuple[int, int] | None = None):
        """Start an exec and return its ExecProcess (id, pid; `wait()`, and with `tty`
        `pump()`/`resize()`/`detach()`); for callers that drive a terminal themselves."""
        from .exec import start

        return start(self, ref, cmd, tty=tty, stdin=stdin, stdout=stdout, stderr=stderr, env=env,
                     workdir=workdir, user=user, privileged=privileged, detach=detach,
                     console_size=console_size)

    def exec_inspect(self, exec_id: str) -> dict:
        """Docker's exec inspect document: Running, ExitCode, Pid, ProcessConfig, ..."""
        from .exec import inspect

        return inspect(self, exec_id)

    # ---- commit, diff, cp, build (services/commit.py, changes.py, copy.py; build/) ----

    def commit(self, ref: str, repo_tag: str | None = None, changes: list[str] | None = None,
               message: str = "", author: str = "", pause: bool = True) -> str:
        """A container's changes as a new image (its image's layers plus one); its id."""
        from .commit import commit

        return commit(self, ref, repo_tag, changes, message, author, pause)

    def diff(self, ref: str) -> list[tuple[str, str]]:
        """[(kind, path)] the container changed: A added, C changed, D deleted."""
        from .changes import diff

        return diff(self, ref)

    def copy_from(self, ref: str, src: str, dest: str | None, *, follow_link: bool = False,
                  archive: bool = False, out=None):
        """`cp CONTAINER:SRC DEST` (or, with dest None, its tar to the stream `out`)."""
        from .copy import copy_from

        return copy_from(self, ref, src, dest, follow_link=follow_link, archive=archive, out=out)

    def copy_to(self, ref: str, src: str | None, dest: str, *, follow_link: bool = False,
                archive: bool = False, stream=None):
        """`cp SRC CONTAINER:DEST` (or, with src None, a tar read from `stream`)."""
        from .copy import copy_to

        return copy_to(self, ref, src, dest, follow_link=follow_link, archive=archive, stream=stream)

    def build(self, context, options, progress=None):
        """Build an image from a Dockerfile (build/builder.py); returns a BuildResult."""
        from ..build.builder import build

        return build(self, context, options, progress)

    def prune_build_cache(self, all: bool = True) -> tuple[list[str], int]:
        """`builder prune`: drop the build cache; (keys of the entries removed, bytes freed)."""
        from ..build.cache import prune

        return prune(self, all=all)

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
    if handle.conn is not None:  # a terminal: its output comes over the attach socket
        from .start import read_output

        def take(fd: int, data: bytes) -> None:
            if (stdout if fd == 1 else stderr) is None:
                chunks["stdout" if fd == 1 else "stderr"].append(data)
            else:
                _write_fd(stdout if fd == 1 else stderr, data)

        read_output(handle.conn, take)
    code = handle.wait()
    return RunResult(cid, code, b"".join(chunks["stdout"]) if stdout is None else None,
                     b"".join(chunks["stderr"]) if stderr is None else None)


def _write_fd(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
