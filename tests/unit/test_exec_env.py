"""exec's pure parts: Docker's environment merge, and the exec primitive importing
only what the monitor may import (it runs healthchecks with it)."""

import os
import subprocess
import sys

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "src")
if SRC not in sys.path:
    sys.path.insert(0, SRC)

from dockyard.services.exec import _merge_env  # noqa: E402


def pairs(env):
    return [e.partition("=") for e in env]


def test_overrides_replace_append_and_unset():
    base = pairs(["PATH=/bin", "HOSTNAME=abc", "A=1"])
    assert _merge_env(base, ["A=2", "B=3"]) == ["PATH=/bin", "HOSTNAME=abc", "A=2", "B=3"]
    assert _merge_env(base, ["HOSTNAME"]) == ["PATH=/bin", "A=1"]  # a bare name unsets
    assert _merge_env(base, ["NOT_THERE"]) == ["PATH=/bin", "HOSTNAME=abc", "A=1"]
    assert _merge_env(base, ["A="]) == ["PATH=/bin", "HOSTNAME=abc", "A="]
    assert _merge_env(base, ["C=x=y"]) == ["PATH=/bin", "HOSTNAME=abc", "A=1", "C=x=y"]


def test_exec_primitive_imports_only_low_layers():
    heavy = {"re", "json", "enum", "signal", "typing", "dataclasses", "argparse", "subprocess", "shutil",
             "hashlib", "threading", "sqlite3", "_sqlite3", "socket"}
    out = subprocess.run([sys.executable, "-I", "-S", "-c",
                          f"import sys; sys.path.insert(0, {SRC!r}); import dockyard.runtime.native.exec; "
                          "print(' '.join(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True).stdout.split()
    ours = [m for m in out if m.startswith("dockyard.")]
    allowed = ("dockyard.errors", "dockyard._sys", "dockyard.core", "dockyard.oci", "dockyard.runtime")
    assert all(m.startswith(allowed) for m in ours), [m for m in ours if not m.startswith(allowed)]
    assert not (set(out) & heavy), sorted(set(out) & heavy)
