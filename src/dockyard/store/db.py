"""The SQLite database: images, tags, layers and containers of one store.

One file, `<root>/dockyard.db`, in WAL mode with a busy timeout, so many CLIs can
read and write at once; every write is one `BEGIN IMMEDIATE` transaction, so two
writers never deadlock on a lock upgrade (SQLite does not retry those).

Schema, version 3 (`PRAGMA user_version`; version 1 lacked repo_digests, version 2
lacked the containers' restart/health columns and the events and execs tables)::

    meta        key TEXT PK, value TEXT                  storage driver, creation time
    images      id TEXT PK                               "sha256:<hex>" = digest of the config blob
                created INTEGER, loaded INTEGER          ns: from the config / when it was stored
                size INTEGER                             unpacked bytes of all layers
                layers TEXT                              diff ids, bottom first, space separated
                manifest TEXT                            digest of its manifest blob, if any
                cmd, entrypoint, env TEXT                NUL-joined lists, NULL when unset
                workdir, user, stop_signal TEXT          (the fields `run` needs, so the hot
                                                          path never parses the config JSON)
    tags        name TEXT PK -> images.id, tagged INTEGER  "docker.io/library/busybox:latest"
    layers      diff_id TEXT PK, size INTEGER,           one row per unpacked layer
                blob TEXT, media_type TEXT               the blob it came from, if kept
    containers  id TEXT PK, name TEXT UNIQUE
                image TEXT, image_id TEXT                as the user wrote it / what it resolved to
                created INTEGER, command TEXT            ns / the command line `ps` shows
                state TEXT                               created|starting|running|exited|removing
                pid, monitor_pid INTEGER, boot_id TEXT   host pids, valid for that boot only
                monitor_start INTEGER                    the monitor's start time, against pid reuse
                started, finished INTEGER                ns
                exit_code INTEGER, oom_killed INTEGER, error TEXT
                auto_remove INTEGER, runtime TEXT
                config TEXT                              JSON: Config and HostConfig, Docker's names
                restart_count INTEGER                    restarts by the monitor's restart policy
                manual_stop INTEGER                      1 after `stop`/`kill`: no policy restarts it
                health TEXT                              JSON: State.Health, NULL without a healthcheck
    repo_digests name TEXT, digest TEXT -> images.id  "docker.io/library/busybox", the digest of
                                                     the manifest (or index) it was pulled/pushed as
    events      seq INTEGER PK AUTOINCREMENT, time INTEGER  ns; a bounded log (store/events.py)
                type, action, actor TEXT                 "container", "die", <container id>
                attributes TEXT                          JSON object: name, image, exitCode, ...
    execs       id TEXT PK, container_id TEXT            `exec` processes (services/exec.py)
                created INTEGER, config TEXT             ns / JSON: Cmd, Tty, User, Env, WorkingDir
                pid INTEGER, running INTEGER, exit_code INTEGER
    build_cache (created on first use by build/cache.py, which draws it)

The `_sqlite3` C module is used directly: the `sqlite3` package on top of it also
imports `datetime` and registers adapters, ~2 ms that `run` does not need.
"""

from __future__ import annotations

import os


def _sqlite():
    """The C module, loaded with the first database opened (~1.3 ms: a pull opens
    its database only once its downloads are under way)."""
    import sys

    if "_sqlite3" in sys.modules or "functools" in sys.modules:
        return _import_sqlite()
    # _sqlite3 imports functools at load, only for lru_cache (its statement cache),
    # and functools brings collections, operator, keyword, reprlib: ~2.6 ms of every
    # command that opens the database. It gets the same cache from the C wrapper
    # that functools.lru_cache itself returns; the real functools loads as usual
    # for whoever imports it later.
    import _functools

    stub = type(sys)("functools")
    stub.lru_cache = lambda maxsize=128, typed=False: (
        lambda function: _functools._lru_cache_wrapper(function, maxsize, typed, tuple))
    sys.modules["functools"] = stub
    try:
        return _import_sqlite()
    finally:
        if sys.modules.get("functools") is stub:
            del sys.modules["functools"]


def _import_sqlite():
    try:
        import _sqlite3 as module
    except ImportError:  # pragma: no cover - a Python built without the C module's name
        import sqlite3 as module
    return module


def __getattr__(name: str):
    if name in ("OperationalError", "IntegrityError"):
        return getattr(_sqlite(), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


SCHEMA_VERSION = 3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS images (
    id TEXT PRIMARY KEY, created INTEGER NOT NULL, loaded INTEGER NOT NULL,
    size INTEGER NOT NULL, layers TEXT NOT NULL, manifest TEXT,
    cmd TEXT, entrypoint TEXT, env TEXT, workdir TEXT, user TEXT, stop_signal TEXT);
CREATE TABLE IF NOT EXISTS tags (
    name TEXT PRIMARY KEY, image_id TEXT NOT NULL, tagged INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS tags_image ON tags(image_id);
CREATE TABLE IF NOT EXISTS layers (
    diff_id TEXT PRIMARY KEY, size INTEGER NOT NULL, blob TEXT, media_type TEXT);
CREATE TABLE IF NOT EXISTS containers (
    id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, image TEXT NOT NULL,
    image_id TEXT NOT NULL, created INTEGER NOT NULL, command TEXT NOT NULL,
    state TEXT NOT NULL, pid INTEGER, monitor_pid INTEGER, monitor_start INTEGER, boot_id TEXT,
    started INTEGER, finished INTEGER, exit_code INTEGER,
    oom_killed INTEGER NOT NULL DEFAULT 0, error TEXT,
    auto_remove INTEGER NOT NULL DEFAULT 0, runtime TEXT NOT NULL, config TEXT NOT NULL,
    restart_count INTEGER NOT NULL DEFAULT 0, manual_stop INTEGER NOT NULL DEFAULT 0, health TEXT);
CREATE INDEX IF NOT EXISTS containers_image ON containers(image_id);
CREATE TABLE IF NOT EXISTS repo_digests (
    name TEXT NOT NULL, digest TEXT NOT NULL, image_id TEXT NOT NULL, PRIMARY KEY (name, digest));
CREATE INDEX IF NOT EXISTS repo_digests_image ON repo_digests(image_id);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, time INTEGER NOT NULL, type TEXT NOT NULL,
    action TEXT NOT NULL, actor TEXT NOT NULL, attributes TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS execs (
    id TEXT PRIMARY KEY, container_id TEXT NOT NULL, created INTEGER NOT NULL, config TEXT NOT NULL,
    pid INTEGER, running INTEGER NOT NULL DEFAULT 0, exit_code INTEGER);
CREATE INDEX IF NOT EXISTS execs_container ON execs(container_id);
"""

# columns added to `containers` after version 2, for stores made before them
_ADDED_COLUMNS = (("restart_count", "INTEGER NOT NULL DEFAULT 0"),
                  ("manual_stop", "INTEGER NOT NULL DEFAULT 0"), ("health", "TEXT"))

__all__ = ["Database", "IntegrityError", "OperationalError", "join_list", "split_list"]


def join_list(items: list[str] | None) -> str | None:
    """A list of strings as one TEXT column (NUL cannot occur in argv or env)."""
    return None if items is None else "\0".join(items) if items else ""


def split_list(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return text.split("\0") if text else []


class Database:
    """One connection to the store's database; open per process, never across fork."""

    def __init__(self, path: str) -> None:
        self.path = path
        sqlite = _sqlite()
        try:
            self.conn = sqlite.connect(path, timeout=60.0, isolation_level=None, check_same_thread=False)
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite.OperationalError:
            os.makedirs(os.path.dirname(path), mode=0o711, exist_ok=True)
            self.conn = sqlite.connect(path, timeout=60.0, isolation_level=None, check_same_thread=False)
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        self.conn.execute("PRAGMA synchronous=NORMAL")
        if version != SCHEMA_VERSION:
            self._migrate(version)

    def _migrate(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            from ..errors import Unavailable

            raise Unavailable(
                f"{self.path}: store schema {version} is newer than this Dockyard understands ({SCHEMA_VERSION})")
        self.conn.execute("PRAGMA journal_mode=WAL")
        with self.write():
            if self.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
                return  # another process won the race
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self.conn.execute(statement)
            have = {row[1] for row in self.conn.execute("PRAGMA table_info(containers)")}
            for column, decl in _ADDED_COLUMNS:
                if column not in have:  # a store made by an older version
                    self.conn.execute(f"ALTER TABLE containers ADD COLUMN {column} {decl}")
            self.conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def write(self) -> "_Write":
        """`with db.write():` - one IMMEDIATE transaction, committed or rolled back."""
        return _Write(self.conn)

    def execute(self, sql: str, params: tuple = ()):
        return self.conn.execute(sql, params)

    def one(self, sql: str, params: tuple = ()):
        return self.conn.execute(sql, params).fetchone()

    def all(self, sql: str, params: tuple = ()) -> list:
        return self.conn.execute(sql, params).fetchall()

    def close(self) -> None:
        self.conn.close()


class _Write:
    __slots__ = ("conn",)

    def __init__(self, conn) -> None:
        self.conn = conn

    def __enter__(self):
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")
