"""The compiled seccomp program for a profile, kept by the profile's digest.

Compiling the default profile with libseccomp takes ~10 ms; a container start only
reads the program it compiled last time (under <runroot>/seccomp).
"""

from __future__ import annotations

import marshal
import os

try:  # the built-in SHA-256: hashlib would load OpenSSL, a few ms on every start
    from _sha256 import sha256
except ImportError:  # Python 3.12+
    try:
        from _sha2 import sha256
    except ImportError:
        from hashlib import sha256


def program(profile: dict, cache: str) -> bytes:
    key = sha256(marshal.dumps(profile)).hexdigest()
    path = f"{cache}/{key}.bpf"
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        pass
    from ..._sys.seccomp import compile_profile

    data = compile_profile(profile)
    try:
        os.makedirs(cache, 0o700, exist_ok=True)
        from ...core.files import atomic_write

        atomic_write(path, data, mode=0o600)
    except OSError:
        pass
    return data
