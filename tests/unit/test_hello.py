"""Tests for the generated hello-world executable.

The headers and code are decoded here independently of the generator, so a
wrong constant in the generator shows up as a mismatch rather than being
checked against itself.  On a host of the matching architecture the binary is
also run, which is the only check that the kernel agrees.
"""

from __future__ import annotations

import os
import stat
import struct
import subprocess
from pathlib import Path

import pytest

from dockyard.image import hello
from dockyard.image.hello import GREETING, hello_elf, host_arch

ARCHES = {"amd64": 62, "arm64": 183}  # arch -> e_machine

EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
PHDR = struct.Struct("<IIQQQQQQ")
PT_LOAD = 1
PF_X, PF_W, PF_R = 1, 2, 4


def parse(elf: bytes) -> tuple[tuple, list[tuple]]:
    """Return the ELF header fields and the program headers."""
    ehdr = EHDR.unpack_from(elf, 0)
    _, _, _, _, _, phoff, _, _, _, phentsize, phnum, _, _, _ = ehdr
    assert phentsize == PHDR.size
    phdrs = [PHDR.unpack_from(elf, phoff + i * phentsize) for i in range(phnum)]
    return ehdr, phdrs


def code_of(elf: bytes) -> tuple[int, bytes]:
    """Return the entry point's file offset and the bytes from there on."""
    (_, _, _, _, entry, *_), phdrs = parse(elf)
    (_, _, offset, vaddr, *_) = phdrs[0]
    at = entry - vaddr + offset
    return at, elf[at:]


@pytest.mark.parametrize("arch", sorted(ARCHES))
def test_elf_headers(arch: str) -> None:
    elf = hello_elf(arch)
    ehdr, phdrs = parse(elf)
    (ident, e_type, e_machine, e_version, e_entry, e_phoff, e_shoff,
     _e_flags, e_ehsize, _phentsize, _phnum, _shentsize, e_shnum, _shstrndx) = ehdr

    assert ident[:4] == b"\x7fELF"
    assert ident[4] == 2  # ELFCLASS64
    assert ident[5] == 1  # little-endian
    assert ident[6] == 1  # EV_CURRENT
    assert e_type == 2  # ET_EXEC
    assert e_machine == ARCHES[arch]
    assert e_version == 1
    assert e_ehsize == EHDR.size == 64
    assert e_phoff == 64
    assert e_shoff == 0 and e_shnum == 0

    loads = [p for p in phdrs if p[0] == PT_LOAD]
    assert len(loads) == 1
    _, flags, offset, vaddr, _paddr, filesz, memsz, align = loads[0]
    assert flags == PF_R | PF_X
    assert offset == 0
    assert filesz == memsz == len(elf)
    assert align & (align - 1) == 0 and vaddr % align == offset % align
    assert vaddr <= e_entry < vaddr + filesz
    assert e_entry - vaddr >= e_phoff + len(phdrs) * PHDR.size  # after the headers
    assert len(elf) < 4096


@pytest.mark.parametrize("arch", sorted(ARCHES))
def test_greeting_embedded_once_at_end(arch: str) -> None:
    elf = hello_elf(arch)
    msg = GREETING.encode()
    assert elf.count(msg) == 1
    assert elf.endswith(msg)


def test_greeting_text() -> None:
    assert GREETING.startswith("\nHello from Dockyard!\n")
    assert GREETING.endswith(" $ dockyard --help\n")
    assert GREETING.isascii()


def test_amd64_code() -> None:
    elf = hello_elf("amd64")
    msg = GREETING.encode()
    at, code = code_of(elf)

    assert code[0:5] == b"\xb8" + struct.pack("<I", 1)  # mov eax, 1 (write)
    assert code[5:10] == b"\xbf" + struct.pack("<I", 1)  # mov edi, 1
    assert code[10:13] == b"\x48\x8d\x35"  # lea rsi, [rip+disp32]
    (disp,) = struct.unpack_from("<i", code, 13)
    assert at + 17 + disp == len(elf) - len(msg)  # rsi -> the greeting
    assert code[17] == 0xBA  # mov edx, imm32
    assert struct.unpack_from("<I", code, 18)[0] == len(msg)
    assert code[22:24] == b"\x0f\x05"  # syscall
    assert code[24:29] == b"\xb8" + struct.pack("<I", 231)  # mov eax, 231
    assert code[29:31] == b"\x31\xff"  # xor edi, edi
    assert code[31:33] == b"\x0f\x05"  # syscall
    assert at + 33 == len(elf) - len(msg)


def _movz(insn: int) -> tuple[int, int]:
    """Decode a 64-bit MOVZ with no shift into (Rd, imm16)."""
    assert insn & 0xFFE00000 == 0xD2800000, hex(insn)
    return insn & 0x1F, (insn >> 5) & 0xFFFF


def _adr(insn: int) -> tuple[int, int]:
    """Decode ADR into (Rd, signed byte offset from the instruction)."""
    assert insn & 0x9F000000 == 0x10000000, hex(insn)
    imm = ((insn >> 5) & 0x7FFFF) << 2 | (insn >> 29) & 0x3
    if imm & 1 << 20:
        imm -= 1 << 21
    return insn & 0x1F, imm


def test_arm64_code() -> None:
    elf = hello_elf("arm64")
    msg = GREETING.encode()
    at, code = code_of(elf)
    assert at % 4 == 0
    insns = struct.unpack_from("<8I", code)
    svc0 = 0xD4000001

    assert _movz(insns[0]) == (0, 1)  # mov x0, #1
    rd, off = _adr(insns[1])  # adr x1, msg
    assert rd == 1 and at + 4 + off == len(elf) - len(msg)
    assert _movz(insns[2]) == (2, len(msg))  # mov x2, #len
    assert _movz(insns[3]) == (8, 64)  # mov x8, #64 (write)
    assert insns[4] == svc0
    assert _movz(insns[5]) == (0, 0)  # mov x0, #0
    assert _movz(insns[6]) == (8, 94)  # mov x8, #94 (exit_group)
    assert insns[7] == svc0
    assert at + 32 == len(elf) - len(msg)


@pytest.mark.parametrize(
    ("rd", "offset", "word"),
    [  # encodings as produced by llvm-mc -triple=aarch64
        (1, 28, 0x100000E1),
        (1, 29, 0x300000E1),
        (3, -6, 0x50FFFFC3),
        (0, 1048575, 0x707FFFE0),
    ],
)
def test_adr_encoding(rd: int, offset: int, word: int) -> None:
    assert hello._a64_adr(rd, offset) == word
    assert _adr(word) == (rd, offset)


@pytest.mark.parametrize("arch", sorted(ARCHES))
def test_deterministic(arch: str) -> None:
    assert hello_elf(arch) == hello_elf(arch)


@pytest.mark.parametrize("arch", ["386", "arm", "riscv64", "x86_64", "", "AMD64"])
def test_unknown_arch(arch: str) -> None:
    with pytest.raises(ValueError, match="no generator for architecture") as exc:
        hello_elf(arch)
    assert str(exc.value) == f"hello-world: no generator for architecture {arch!r}"


@pytest.mark.parametrize(
    ("machine", "expected"),
    [("x86_64", "amd64"), ("aarch64", "arm64"), ("arm64", "arm64"), ("riscv64", "riscv64")],
)
def test_host_arch(monkeypatch: pytest.MonkeyPatch, machine: str, expected: str) -> None:
    real = os.uname()
    fake = os.uname_result((real.sysname, real.nodename, real.release, real.version, machine))
    monkeypatch.setattr(hello.os, "uname", lambda: fake)
    assert host_arch() == expected


@pytest.mark.parametrize("arch", sorted(ARCHES))
def test_runs_on_host(arch: str, tmp_path: Path) -> None:
    if host_arch() != arch:
        pytest.skip(f"{arch} binary cannot run on a {os.uname().machine} host")
    exe = tmp_path / "hello"
    exe.write_bytes(hello_elf(arch))
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    result = subprocess.run([str(exe)], capture_output=True, timeout=10)
    assert result.returncode == 0
    assert result.stderr == b""
    assert result.stdout.decode() == GREETING
