"""The processes that must start fast and stay small import only what they need.

STYLE: the container's init and the monitor import only the standard library and
the low layers; the CLI's `run` path avoids the heavy standard modules.
"""

import os
import subprocess
import sys

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "src")

# (collections and functools are not listed: modules the run path needs may import
# them; the database itself does not: test_the_database_opens_without_functools)
HEAVY = {"re", "json", "json.decoder", "enum", "signal", "typing", "dataclasses", "inspect",
         "argparse", "subprocess", "shutil", "tarfile", "threading", "datetime", "sqlite3",
         "random", "hashlib", "ctypes.util", "tempfile", "logging"}


def _modules(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-I", "-S", "-c",
                          f"import sys; sys.path.insert(0, {SRC!r}); {code}; print(' '.join(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True).stdout.split()
    return set(out)


def test_run_path_avoids_heavy_modules():
    mods = _modules("import dockyard.cli.main, dockyard.cli.commands.run, dockyard.services.start, "
                    "dockyard.services.create, dockyard.services.engine, dockyard.services.containers, "
                    "dockyard.image.images, dockyard.snapshot.overlay, dockyard.snapshot.lookup, "
                    "dockyard.cgroups.v1, dockyard.cgroups.v2, dockyard.oci.users, dockyard.cli.progress, "
                    # imported lazily while a container is created and started
                    "dockyard.services.security, dockyard.oci.capabilities, dockyard.oci.seccomp_profile, "
                    "dockyard.cgroups.devices, dockyard.runtime.native, dockyard.runtime.native.seccomp, "
                    "dockyard._sys.seccomp, dockyard.oci.spec, dockyard.oci.imageconfig")
    assert not (mods & HEAVY), sorted(mods & HEAVY)


def test_the_database_opens_without_functools(tmp_path):
    """_sqlite3 gets its statement cache without functools (and collections) being
    loaded; its cache still works past its size, and functools imported later is the
    real one."""
    path = str(tmp_path / "d.db")
    mods = _modules(f"from dockyard.store.db import Database; db = Database({path!r}); "
                    "assert [db.one(f'SELECT {i}')[0] for i in range(300)] == list(range(300))")
    assert not (mods & {"functools", "collections"}), sorted(mods & {"functools", "collections"})
    _modules(f"from dockyard.store.db import Database; db = Database({path!r}); import functools; "
             "assert functools.partial(int, base=2)('11') == 3 and hasattr(functools, 'reduce'); "
             "assert [db.one(f'SELECT {i}')[0] for i in range(300) for _ in (0, 1)] == "
             "[i for i in range(300) for _ in (0, 1)]")


def test_oci_runtime_cli_avoids_heavy_modules():
    """dockyard-runtime's create/start/state/delete path (json is read and written by
    core.jsonenc; select and socket come only with hooks and terminals)."""
    mods = _modules("import dockyard.cli.runtime, dockyard.runtime.standalone.lifecycle, "
                    "dockyard.runtime.standalone.config, dockyard.runtime.standalone.state, "
                    "dockyard.runtime.native.init, dockyard.runtime.hooks, dockyard.cgroups.v1, dockyard.cgroups.v2")
    assert not (mods & HEAVY), sorted(mods & HEAVY)


def test_init_and_monitor_import_only_low_layers():
    mods = _modules("import dockyard.runtime.native.init, dockyard.monitor.monitor, dockyard.monitor.logfile")
    ours = {m for m in mods if m.startswith("dockyard.")}
    allowed = ("dockyard.errors", "dockyard._sys", "dockyard.core", "dockyard.oci", "dockyard.store",
               "dockyard.runtime", "dockyard.monitor", "dockyard.snapshot")
    assert all(m.startswith(allowed) for m in ours), sorted(m for m in ours if not m.startswith(allowed))
    assert not any(m.startswith(("dockyard.services", "dockyard.cli", "dockyard.image")) for m in mods)
    assert not (mods & HEAVY), sorted(mods & HEAVY)


def test_every_module_imports_on_its_own():
    """A library user may import any module first (`import dockyard.core.workers`);
    the package's lazy attributes must not trip over that (they once recursed)."""
    code = (
        "import importlib, pkgutil, sys, dockyard\n"
        "names = [m.name for m in pkgutil.walk_packages(dockyard.__path__, 'dockyard.') if not m.name.endswith('__main__')]\n"
        "bad = []\n"
        "for name in names:\n"
        "    for k in [k for k in sys.modules if k == 'dockyard' or k.startswith('dockyard.')]:\n"
        "        del sys.modules[k]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except BaseException as e:\n"
        "        bad.append(f'{name}: {type(e).__name__}: {e}'[:200])\n"
        "print(len(names)); print('\\n'.join(bad))\n"
    )
    r = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {SRC!r})\n{code}"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    count, *bad = r.stdout.strip().split("\n")
    assert int(count) > 100
    assert not bad, bad


def test_pull_reaches_its_first_layer_without_sqlite_or_threading():
    """What a pull imports before it forks its layer downloads: the database (and
    the C module) and the threading module come only once the downloads run."""
    mods = _modules("import dockyard.cli.main, dockyard.cli.commands.pull, dockyard.services.engine, "
                    "dockyard.services.registry, dockyard.registry.pull, dockyard.image.ingest, "
                    "dockyard.snapshot.overlay, dockyard.core.workers, dockyard.image.layers; "
                    "dockyard.image.layers.preload()")
    assert not (mods & {"_sqlite3", "sqlite3", "threading", "tarfile", "json"}), \
        sorted(mods & {"_sqlite3", "sqlite3", "threading", "tarfile", "json"})


def test_the_storage_driver_is_read_without_opening_the_database(tmp_path, monkeypatch):
    from dockyard.services.engine import Engine

    monkeypatch.setenv("DOCKYARD_STORAGE_DRIVER", "vfs")
    first = Engine(str(tmp_path / "root"), str(tmp_path / "run"))
    assert first.storage_driver == "vfs" and first._db is not None  # chosen and recorded
    first.close()
    assert (tmp_path / "root" / "storage-driver").read_text() == "vfs"
    monkeypatch.setenv("DOCKYARD_STORAGE_DRIVER", "overlay2")  # a store keeps its driver
    second = Engine(str(tmp_path / "root"), str(tmp_path / "run"))
    assert second.storage_driver == "vfs" and second._db is None
