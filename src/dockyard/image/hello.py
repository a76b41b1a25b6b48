"""The program inside Dockyard's built-in ``hello-world`` image, generated here.

``dockyard run hello-world`` is the first thing people try, often on a machine
that cannot reach a registry, so the engine builds that image itself instead of
pulling it.  The image needs one executable, and this module writes it from
scratch, in pure Python: no compiler on the build machine or the user's machine,
and no prebuilt binary shipped or downloaded, so nothing opaque enters the
project.  The program is small enough to read in full below: a static ELF64
file of a few hundred bytes, with no libc and no dynamic loader, that makes
exactly two system calls, ``write(1, GREETING, len)`` and ``exit_group(0)``.
Because it needs nothing from the image's file system, the image is a single
file, and it exercises the whole engine (namespaces, pivot_root, the monitor,
logging) without depending on anything but the kernel.

The file is one ELF header, one program header and the code, with the greeting
right after the code.  A single ``PT_LOAD`` segment maps the whole file,
readable and executable, at a fixed address; there are no section headers,
because the kernel's loader never reads them.

The greeting is written with one ``write`` call and the result is not checked.
It is shorter than ``PIPE_BUF`` (4096 bytes), so a write to a pipe, which is
what the monitor gives the container, is all-or-nothing; a loop for short
writes would double the code for a case that does not arise there.
"""

from __future__ import annotations

import os
import struct

__all__ = ["GREETING", "hello_elf", "host_arch"]

GREETING: str = """
Hello from Dockyard!
This message shows that your installation appears to be working correctly.

To generate this message, Dockyard took the following steps:
 1. The dockyard command found the image "hello-world" in its local store
    (or built it: the engine makes this image itself, offline).
 2. It created a container from that image: a writable layer on top of the
    image's read-only snapshot, and new PID, mount, UTS, IPC, network and
    cgroup namespaces, with a cgroup to limit its resources.
 3. A small monitor process started the container's command, this program,
    as PID 1 inside those namespaces, after pivot_root into its file system.
 4. The monitor streamed this output to your terminal and kept a copy in the
    container's log (see "dockyard logs").

To try something more ambitious, you can run a shell in a busybox container:
 $ dockyard run -i busybox sh

Find more commands with:
 $ dockyard --help
"""

# Where the file is mapped.  0x400000 is the address static linkers use by
# default on both architectures; it is above vm.mmap_min_addr and aligned to
# every page size in use (4 KiB on x86_64, up to 64 KiB on aarch64).
_BASE_ADDR = 0x400000

_EHDR_SIZE = 64  # sizeof(Elf64_Ehdr)
_PHDR_SIZE = 56  # sizeof(Elf64_Phdr)
_CODE_OFFSET = _EHDR_SIZE + _PHDR_SIZE  # 120: 4-byte aligned, as aarch64 needs

_ET_EXEC = 2
_PT_LOAD = 1
_PF_X = 1
_PF_R = 4

_EM_X86_64 = 62
_EM_AARCH64 = 183

# Linux system call numbers differ per architecture.
_SYS_WRITE_X86_64 = 1
_SYS_EXIT_GROUP_X86_64 = 231
_SYS_WRITE_AARCH64 = 64
_SYS_EXIT_GROUP_AARCH64 = 94

_STDOUT = 1


def host_arch() -> str:
    """Return the OCI name of this machine's architecture.

    Image configs and manifests name architectures as Go does ("amd64",
    "arm64"), while the kernel reports its own names, so the hello-world
    image has to translate to build a program this host can run.  Unknown
    machines pass through unchanged so the error message names them.
    """
    machine = os.uname().machine
    if machine == "x86_64":
        return "amd64"
    if machine in ("aarch64", "arm64"):
        return "arm64"
    return machine


def _x86_64_code(msg_len: int) -> bytes:
    """Machine code for x86_64; the greeting must follow it immediately.

    The greeting is addressed relative to RIP so the code does not depend on
    where it is loaded, even though the address is fixed here.
    """
    code = bytearray()
    # mov eax, 1 -- B8+rd imm32: syscall number of write (writing EAX zeroes
    # the upper half of RAX).
    code += b"\xb8" + struct.pack("<I", _SYS_WRITE_X86_64)
    # mov edi, 1 -- BF imm32: first argument, the file descriptor (stdout).
    code += b"\xbf" + struct.pack("<I", _STDOUT)
    # lea rsi, [rip + disp32] -- REX.W 8D /r with ModRM 0x35 (mod=00, reg=RSI,
    # rm=101: RIP-relative): second argument, the buffer.  The displacement is
    # patched below, once the code's length is known; RIP is the address of
    # the next instruction.
    lea_at = len(code)
    code += b"\x48\x8d\x35" + b"\0\0\0\0"
    lea_end = len(code)
    # mov edx, len -- BA imm32: third argument, the byte count.
    code += b"\xba" + struct.pack("<I", msg_len)
    # syscall -- 0F 05: write(1, msg, len).
    code += b"\x0f\x05"
    # mov eax, 231 -- B8 imm32: syscall number of exit_group, which ends every
    # thread (there is only one) rather than just this one.
    code += b"\xb8" + struct.pack("<I", _SYS_EXIT_GROUP_X86_64)
    # xor edi, edi -- 31 /r with ModRM 0xFF: first argument, exit status 0.
    code += b"\x31\xff"
    # syscall -- 0F 05: exit_group(0); does not return.
    code += b"\x0f\x05"
    # msg starts right after the last instruction.
    struct.pack_into("<i", code, lea_at + 3, len(code) - lea_end)
    return bytes(code)


def _a64_movz(rd: int, imm16: int) -> int:
    """Encode ``movz xRd, #imm16`` (64-bit, no shift): the assembler's ``mov``."""
    if not 0 <= imm16 < 1 << 16:
        raise ValueError(f"movz immediate out of range: {imm16}")
    # sf=1 opc=10 100101 hw=00 imm16 Rd
    return 0xD2800000 | imm16 << 5 | rd


def _a64_adr(rd: int, offset: int) -> int:
    """Encode ``adr xRd, .+offset``: the offset counts from this instruction.

    The 21-bit signed offset is split: its low 2 bits go in immlo (bits
    29-30), the other 19 in immhi (bits 5-23).
    """
    if not -(1 << 20) <= offset < 1 << 20:
        raise ValueError(f"adr offset out of range: {offset}")
    imm = offset & 0x1FFFFF
    # op=0 immlo 10000 immhi Rd
    return 0x10000000 | (imm & 0x3) << 29 | (imm >> 2) << 5 | rd


_A64_SVC_0 = 0xD4000001  # svc #0: 11010100 000 imm16=0 000 01


def _aarch64_code(msg_len: int) -> bytes:
    """Machine code for aarch64; the greeting must follow it immediately."""
    n_insns = 8  # every A64 instruction is 4 bytes; msg follows the 8th
    adr_index = 1
    insns = [
        # mov x0, #1 -- first argument, the file descriptor (stdout).
        _a64_movz(0, _STDOUT),
        # adr x1, msg -- second argument, the buffer, PC-relative.
        _a64_adr(1, (n_insns - adr_index) * 4),
        # mov x2, #len -- third argument, the byte count.
        _a64_movz(2, msg_len),
        # mov x8, #64 -- syscall number of write goes in x8.
        _a64_movz(8, _SYS_WRITE_AARCH64),
        # svc #0 -- write(1, msg, len).
        _A64_SVC_0,
        # mov x0, #0 -- first argument, exit status 0.
        _a64_movz(0, 0),
        # mov x8, #94 -- syscall number of exit_group, which ends every
        # thread (there is only one) rather than just this one.
        _a64_movz(8, _SYS_EXIT_GROUP_AARCH64),
        # svc #0 -- exit_group(0); does not return.
        _A64_SVC_0,
    ]
    assert len(insns) == n_insns
    return struct.pack(f"<{n_insns}I", *insns)


# arch -> (e_machine, code generator, p_align).  p_align is the largest page
# size the architecture's kernels use, as a static linker would write it.
_TARGETS = {
    "amd64": (_EM_X86_64, _x86_64_code, 0x1000),
    "arm64": (_EM_AARCH64, _aarch64_code, 0x10000),
}


def hello_elf(arch: str) -> bytes:
    """Return the hello-world executable for ``arch`` (an OCI name).

    The result is the same bytes on every call, so the image built from it has
    the same digest on every machine and every run, which keeps the image
    store from growing a new copy each time the image is rebuilt.
    """
    try:
        machine, gen_code, align = _TARGETS[arch]
    except KeyError:
        raise ValueError(f"hello-world: no generator for architecture {arch!r}") from None

    msg = GREETING.encode()
    code = gen_code(len(msg))
    size = _CODE_OFFSET + len(code) + len(msg)

    ehdr = struct.pack(
        "<4sBBBBB7xHHIQQQIHHHHHH",
        b"\x7fELF",
        2,  # EI_CLASS: ELFCLASS64
        1,  # EI_DATA: ELFDATA2LSB (little-endian)
        1,  # EI_VERSION: EV_CURRENT
        0,  # EI_OSABI: System V (what Linux expects)
        0,  # EI_ABIVERSION
        _ET_EXEC,  # e_type: fixed-address executable, no relocation
        machine,  # e_machine
        1,  # e_version: EV_CURRENT
        _BASE_ADDR + _CODE_OFFSET,  # e_entry: the first instruction
        _EHDR_SIZE,  # e_phoff: program header right after this one
        0,  # e_shoff: no section headers
        0,  # e_flags
        _EHDR_SIZE,  # e_ehsize
        _PHDR_SIZE,  # e_phentsize
        1,  # e_phnum
        0,  # e_shentsize: no section headers
        0,  # e_shnum
        0,  # e_shstrndx: SHN_UNDEF
    )
    phdr = struct.pack(
        "<IIQQQQQQ",
        _PT_LOAD,  # p_type
        _PF_R | _PF_X,  # p_flags: the program never writes to itself
        0,  # p_offset: map from the start of the file ...
        _BASE_ADDR,  # p_vaddr: ... at the base address,
        _BASE_ADDR,  # p_paddr (unused on Linux)
        size,  # p_filesz: the whole file,
        size,  # p_memsz: and no zero-filled tail (.bss)
        align,  # p_align
    )
    assert len(ehdr) == _EHDR_SIZE and len(phdr) == _PHDR_SIZE
    return ehdr + phdr + code + msg
