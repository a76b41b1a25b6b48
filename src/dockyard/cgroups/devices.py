"""The device controller: which device nodes a container may open or create.

Without it, CAP_MKNOD (in Docker's default set) would let a container make a node
for the host's disk and read it. The rules are the OCI spec's
`linux.resources.devices` ({allow, type: a|c|b, major, minor, access: rwm}), in
order, the last match deciding, as cgroup v1's devices.allow/deny lists behave:

- v1: "a" into devices.deny, then each rule into devices.allow or devices.deny;
- v2: an eBPF program of type CGROUP_DEVICE, attached to the container's cgroup,
  that tests the rules from the last to the first and returns at the first match.
"""

from __future__ import annotations

import os
import struct

# the devices every container may use (Docker's list); mknod of any node is
# allowed, opening only these
DEFAULT_RULES = [
    {"allow": False, "access": "rwm"},
    {"allow": True, "type": "c", "access": "m"},
    {"allow": True, "type": "b", "access": "m"},
    {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},   # null
    {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},   # zero
    {"allow": True, "type": "c", "major": 1, "minor": 7, "access": "rwm"},   # full
    {"allow": True, "type": "c", "major": 1, "minor": 8, "access": "rwm"},   # random
    {"allow": True, "type": "c", "major": 1, "minor": 9, "access": "rwm"},   # urandom
    {"allow": True, "type": "c", "major": 5, "minor": 0, "access": "rwm"},   # tty
    {"allow": True, "type": "c", "major": 5, "minor": 1, "access": "rwm"},   # console
    {"allow": True, "type": "c", "major": 5, "minor": 2, "access": "rwm"},   # ptmx
    {"allow": True, "type": "c", "major": 136, "access": "rwm"},             # pts/*
    {"allow": True, "type": "c", "major": 10, "minor": 200, "access": "rwm"},  # net/tun
]
ALLOW_ALL = [{"allow": True, "access": "rwm"}]


def _num(v) -> str:
    return "*" if v is None or v == -1 else str(int(v))


def v1_lines(rules: list[dict]) -> list[tuple[str, str]]:
    """(file, line) writes for a v1 devices cgroup, in order."""
    out = []
    for r in rules:
        kind = r.get("type") or "a"
        if kind == "a" and r.get("major") in (None, -1) and r.get("minor") in (None, -1) \
                and set(r.get("access") or "rwm") == set("rwm"):
            out.append(("devices.allow" if r.get("allow") else "devices.deny", "a"))
            continue
        line = f"{kind} {_num(r.get('major'))}:{_num(r.get('minor'))} {r.get('access') or 'rwm'}"
        out.append(("devices.allow" if r.get("allow") else "devices.deny", line))
    return out


# eBPF (BPF_PROG_TYPE_CGROUP_DEVICE). ctx: u32 access_type = (access << 16) | type,
# u32 major, u32 minor. Type: block 1, char 2. Access: mknod 1, read 2, write 4.
_TYPE = {"b": 1, "c": 2}
_ACCESS = {"m": 1, "r": 2, "w": 4}


def _insn(op: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", op, (src << 4) | dst, off, imm)


def v2_program(rules: list[dict]) -> bytes:
    """The eBPF device filter for `rules` (last matching rule wins)."""
    head = [
        _insn(0x61, 2, 1, 0),      # r2 = ctx->access_type
        _insn(0x54, 2, imm=0xFFFF),  # w2 &= 0xffff       (device type)
        _insn(0x61, 3, 1, 0),      # r3 = ctx->access_type
        _insn(0x74, 3, imm=16),    # w3 >>= 16            (access wanted)
        _insn(0x61, 4, 1, 4),      # r4 = ctx->major
        _insn(0x61, 5, 1, 8),      # r5 = ctx->minor
    ]
    blocks = []
    for r in reversed(rules):
        body = []
        kind = r.get("type") or "a"
        if kind != "a":
            body.append(("jne", 2, _TYPE[kind]))
        access = 0
        for ch in r.get("access") or "rwm":
            access |= _ACCESS[ch]
        if access != 7:
            body.append(("mov", 6, 3))                 # w6 = w3
            body.append(("and", 6, ~access & 0xFFFFFFFF))  # w6 &= ~rule_access
            body.append(("jne", 6, 0))                 # asks for more than the rule gives: next
        if r.get("major") not in (None, -1):
            body.append(("jne", 4, int(r["major"])))
        if r.get("minor") not in (None, -1):
            body.append(("jne", 5, int(r["minor"])))
        blocks.append((body, 1 if r.get("allow") else 0))
    out = list(head)
    unconditional = False
    for body, verdict in blocks:
        insns = []
        n_after = len(body) + 2  # the two instructions that give the verdict
        for i, (kind, reg, value) in enumerate(body):
            if kind == "jne":
                insns.append(_insn(0x55, reg, off=n_after - i - 1, imm=_s32(value)))  # skip to next rule
            elif kind == "mov":
                insns.append(_insn(0xBC, reg, value))  # w_reg = w_value
            else:
                insns.append(_insn(0x54, reg, imm=_s32(value)))
        insns.append(_insn(0xB4, 0, imm=verdict))  # w0 = verdict
        insns.append(_insn(0x95))                  # exit
        out.extend(insns)
        if not body:
            unconditional = True  # matches everything: what follows could never run,
            break                 # and the verifier refuses unreachable code
    if not unconditional:
        out.append(_insn(0xB4, 0, imm=0))  # nothing matched: deny
        out.append(_insn(0x95))
    return b"".join(out)


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >= 1 << 31 else v


def attach_v2(cgroup_dir: str, rules: list[dict]) -> None:
    """Load the filter and attach it to the cgroup (the attachment outlives our fds)."""
    from .._sys import libc

    if rules == ALLOW_ALL:
        return  # nothing attached: everything allowed
    prog = libc.bpf_prog_load_cgroup_device(v2_program(rules))
    try:
        fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            libc.bpf_prog_attach_cgroup_device(fd, prog)
        finally:
            os.close(fd)
    finally:
        os.close(prog)
