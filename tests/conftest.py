"""Shared fixtures.

`dy` runs the real `dockyard` command (the installed launcher, else
`python -m dockyard`) against a store shared by the session; `fresh_dy` gets a
private, empty store for tests that change images. After every test the
containers it made are force-removed, and the test fails if any of their cgroups
or mounts is left behind.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

IS_ROOT = os.geteuid() == 0
# no test may reach a registry outside this machine, whether through the CLI or the API
os.environ["DOCKYARD_OFFLINE"] = "1"
SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
if SRC not in sys.path:
    sys.path.insert(0, SRC)


def cli_command() -> list[str]:
    exe = os.environ.get("DOCKYARD_CLI") or shutil.which("dockyard")
    if exe:
        return [exe]
    return [sys.executable, "-m", "dockyard"]


class Dockyard:
    """The dockyard CLI bound to one store."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.root = os.path.join(base, "root")
        self.runroot = os.path.join(base, "run")
        # DOCKYARD_OFFLINE: a test must never reach a registry outside this machine
        self.env = dict(os.environ, DOCKYARD_ROOT=self.root, DOCKYARD_RUNROOT=self.runroot, DOCKYARD_OFFLINE="1")
        self.env.pop("DOCKYARD_STORAGE_DRIVER", None)
        self.cmd = cli_command()

    def __call__(self, *args: str, input: str | bytes | None = None, timeout: float = 120,
                 env: dict | None = None, text: bool = True) -> subprocess.CompletedProcess:
        if isinstance(input, bytes):
            text = False
        return subprocess.run([*self.cmd, *args], input=input, capture_output=True, text=text,
                              timeout=timeout, env=dict(self.env, **(env or {})))

    def ok(self, *args: str, **kw) -> str:
        """Run and insist on exit 0; returns stdout."""
        p = self(*args, **kw)
        assert p.returncode == 0, f"dockyard {' '.join(args)} exited {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}"
        return p.stdout

    def engine(self):
        from dockyard import Engine

        return Engine(self.root, self.runroot)

    def container_ids(self) -> list[str]:
        p = self("ps", "-aq", "--no-trunc")
        return p.stdout.split() if p.returncode == 0 else []

    def cleanup(self) -> list[str]:
        """Remove every container; returns leftovers (cgroups, mounts) as messages."""
        ids = self.container_ids()
        for cid in ids:
            self("rm", "-f", cid)
        problems = []
        for cid in ids:
            for d in leftover_cgroups(cid):
                problems.append(f"cgroup left behind: {d}")
        with open("/proc/self/mountinfo") as f:
            for line in f:
                mnt = line.split()[4]
                if mnt.startswith(self.base):
                    problems.append(f"mount left behind: {mnt}")
        return problems


def leftover_cgroups(cid: str) -> list[str]:
    out = []
    for top in ("/sys/fs/cgroup", *(f"/sys/fs/cgroup/{d}" for d in _listdir("/sys/fs/cgroup"))):
        d = f"{top}/dockyard/{cid}"
        if os.path.isdir(d):
            out.append(d)
    return out


def _listdir(p: str) -> list[str]:
    try:
        return os.listdir(p)
    except OSError:
        return []


def _need_root() -> None:
    if not IS_ROOT:
        pytest.skip("needs root: namespaces, mounts and cgroups")


@pytest.fixture(scope="session")
def _shared_store(tmp_path_factory):
    _need_root()
    d = Dockyard(str(tmp_path_factory.mktemp("shared-store")))
    yield d
    d.cleanup()


@pytest.fixture
def dy(_shared_store):
    """The CLI on the session's store (busybox and hello-world get built once)."""
    before = set(_shared_store.container_ids())
    yield _shared_store
    leftovers = [c for c in _shared_store.container_ids() if c not in before]
    for cid in leftovers:
        _shared_store("rm", "-f", cid)
    problems = [f"cgroup left behind: {d}" for cid in leftovers for d in leftover_cgroups(cid)]
    assert not problems, problems


@pytest.fixture
def fresh_dy(tmp_path):
    """The CLI on a new, empty store of its own."""
    _need_root()
    d = Dockyard(str(tmp_path / "store"))
    yield d
    problems = d.cleanup()
    assert not problems, problems
