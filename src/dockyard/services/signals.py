"""Signal names and numbers as `kill -s` and STOPSIGNAL take them (KILL, SIGKILL, 9,
RTMIN+3), without importing the `signal` module (it builds enums: ~5 ms)."""

from __future__ import annotations

from ..errors import InvalidArgument

NUMBERS = {
    "HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "IOT": 6, "BUS": 7, "FPE": 8,
    "KILL": 9, "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15,
    "STKFLT": 16, "CHLD": 17, "CLD": 17, "CONT": 18, "STOP": 19, "TSTP": 20, "TTIN": 21,
    "TTOU": 22, "URG": 23, "XCPU": 24, "XFSZ": 25, "VTALRM": 26, "PROF": 27, "WINCH": 28,
    "IO": 29, "POLL": 29, "PWR": 30, "SYS": 31, "RTMIN": 34, "RTMAX": 64,
}
SIGTERM = 15


def parse_signal(value: str | int) -> int:
    if isinstance(value, int):
        n = value
    else:
        s = value.strip().upper()
        if s.isdigit():
            n = int(s)
        else:
            s = s[3:] if s.startswith("SIG") else s
            base, plus, off = s.partition("+")
            base2, minus, off2 = s.partition("-")
            if plus and base == "RTMIN" and off.isdigit():
                n = 34 + int(off)
            elif minus and base2 == "RTMAX" and off2.isdigit():
                n = 64 - int(off2)
            elif s in NUMBERS:
                n = NUMBERS[s]
            else:
                raise InvalidArgument(f"Invalid signal: {value}")
    if not 1 <= n <= 64:
        raise InvalidArgument(f"Invalid signal: {value}")
    return n


def stop_signal(name: str) -> int:
    return parse_signal(name) if name else SIGTERM
