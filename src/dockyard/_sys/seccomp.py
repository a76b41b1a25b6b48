"""seccomp: compiling an OCI `linux.seccomp` object to a BPF program with libseccomp
(through ctypes: the library is the well-kept part, the binding is thin), and
loading a compiled program into the calling process.

Compiling takes milliseconds, so the native runtime keeps the result by the
profile's digest (runtime.native.seccomp); loading is one prctl.
"""

from __future__ import annotations

import ctypes
import os

from ..errors import InvalidArgument, KernelError, Unavailable

_ACTIONS = {
    "SCMP_ACT_KILL": 0x00000000, "SCMP_ACT_KILL_THREAD": 0x00000000,
    "SCMP_ACT_KILL_PROCESS": 0x80000000, "SCMP_ACT_TRAP": 0x00030000,
    "SCMP_ACT_ERRNO": 0x00050000, "SCMP_ACT_TRACE": 0x7FF00000, "SCMP_ACT_LOG": 0x7FFC0000,
    "SCMP_ACT_ALLOW": 0x7FFF0000,
}
_OPS = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4, "SCMP_CMP_GE": 5,
        "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}
_ARCHES = {"SCMP_ARCH_X86_64": "x86_64", "SCMP_ARCH_X86": "x86", "SCMP_ARCH_X32": "x32",
           "SCMP_ARCH_AARCH64": "aarch64", "SCMP_ARCH_ARM": "arm", "SCMP_ARCH_PPC64LE": "ppc64le",
           "SCMP_ARCH_S390X": "s390x", "SCMP_ARCH_RISCV64": "riscv64"}
_FLTATR_ACT_BADARCH = 2
EPERM = 1


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


_lib = None


def _libseccomp():
    global _lib
    if _lib is None:
        try:
            lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)  # find_library would run ldconfig
        except OSError:
            raise Unavailable("libseccomp is not installed (Debian: libseccomp2); it compiles the "
                              "container's seccomp profile") from None
        lib.seccomp_init.restype = ctypes.c_void_p
        lib.seccomp_init.argtypes = (ctypes.c_uint32,)
        lib.seccomp_release.argtypes = (ctypes.c_void_p,)
        lib.seccomp_arch_add.argtypes = (ctypes.c_void_p, ctypes.c_uint32)
        lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
        lib.seccomp_arch_resolve_name.argtypes = (ctypes.c_char_p,)
        lib.seccomp_syscall_resolve_name.argtypes = (ctypes.c_char_p,)
        lib.seccomp_rule_add_array.argtypes = (ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                               ctypes.POINTER(_ArgCmp))
        lib.seccomp_attr_set.argtypes = (ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32)
        lib.seccomp_export_bpf.argtypes = (ctypes.c_void_p, ctypes.c_int)
        _lib = lib
    return _lib


def _action(name: str, errno_ret: int | None) -> int:
    if name not in _ACTIONS:
        raise InvalidArgument(f"seccomp: unknown action {name!r}")
    value = _ACTIONS[name]
    if name == "SCMP_ACT_ERRNO":
        value |= (EPERM if errno_ret is None else errno_ret) & 0xFFFF
    elif name == "SCMP_ACT_TRACE":
        value |= (errno_ret or 0) & 0xFFFF
    return value


def compile_profile(profile: dict) -> bytes:
    """The BPF program for an OCI seccomp object, as bytes of `struct sock_filter`s."""
    lib = _libseccomp()
    default = _action(profile.get("defaultAction", "SCMP_ACT_ALLOW"), profile.get("defaultErrnoRet"))
    ctx = lib.seccomp_init(default)
    if not ctx:
        raise Unavailable("seccomp_init failed")
    try:
        # a syscall of an architecture the profile does not name gets the default action
        lib.seccomp_attr_set(ctx, _FLTATR_ACT_BADARCH, default)
        native = os.uname().machine
        for arch in profile.get("architectures") or []:
            name = _ARCHES.get(arch)
            if name is None:
                raise InvalidArgument(f"seccomp: unknown architecture {arch!r}")
            if name == native:
                continue
            token = lib.seccomp_arch_resolve_name(name.encode())
            if token:
                rc = lib.seccomp_arch_add(ctx, token)
                if rc not in (0, -17):  # -EEXIST: already there
                    raise KernelError("seccomp_arch_add", arch, -rc)
        for rule in profile.get("syscalls") or []:
            action = _action(rule.get("action", "SCMP_ACT_ALLOW"), rule.get("errnoRet"))
            args = rule.get("args") or []
            cmps = (_ArgCmp * max(len(args), 1))()
            for i, a in enumerate(args):
                op = a.get("op", "SCMP_CMP_EQ")
                if op not in _OPS:
                    raise InvalidArgument(f"seccomp: unknown comparison {op!r}")
                cmps[i] = _ArgCmp(int(a["index"]), _OPS[op], int(a.get("value", 0)) & (2**64 - 1),
                                  int(a.get("valueTwo", 0)) & (2**64 - 1))
            for name in rule.get("names") or ([rule["name"]] if rule.get("name") else []):
                nr = lib.seccomp_syscall_resolve_name(name.encode())
                if nr == -1:  # __NR_SCMP_ERROR: no such syscall on these architectures
                    continue
                if action == default:
                    continue  # libseccomp refuses rules that repeat the default
                rc = lib.seccomp_rule_add_array(ctx, action, nr, len(args), cmps)
                if rc != 0 and rc != -17:
                    raise InvalidArgument(f"seccomp: cannot add a rule for {name}: {os.strerror(-rc)}")
        fd = os.memfd_create("dockyard-seccomp", os.MFD_CLOEXEC)
        try:
            rc = lib.seccomp_export_bpf(ctx, fd)
            if rc != 0:
                raise KernelError("seccomp_export_bpf", None, -rc)
            os.lseek(fd, 0, os.SEEK_SET)
            chunks = []
            while chunk := os.read(fd, 65536):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)
    finally:
        lib.seccomp_release(ctx)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def load(program: bytes) -> None:
    """Install a compiled filter on the calling thread (needs no_new_privs or
    CAP_SYS_ADMIN). The last thing before execve: after it only execve is needed."""
    from .libc import prctl

    buf = ctypes.create_string_buffer(program, len(program))
    prog = _SockFprog(len(program) // 8, ctypes.addressof(buf))
    prctl(22, 2, ctypes.addressof(prog))  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
