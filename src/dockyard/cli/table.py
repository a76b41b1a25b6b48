"""Column output as Docker prints it (Go's tabwriter: min width 10, padding 3)."""

from __future__ import annotations


def table(header: list[str], rows: list[list[str]], minwidth: int = 10, padding: int = 3) -> str:
    widths = [len(h) for h in header]
    for r in rows:
        for i, cell in enumerate(r):
            widths[i] = max(widths[i], len(cell))
    widths = [max(w + padding, minwidth) for w in widths]
    out = []
    for r in [header, *rows]:
        line = "".join(cell.ljust(widths[i]) for i, cell in enumerate(r[:-1])) + r[-1]
        out.append(line.rstrip())
    return "\n".join(out) + "\n"


def ellipsis(text: str, n: int) -> str:
    """Docker's truncation: keep n characters, the last one an ellipsis."""
    return text if len(text) <= n else text[: n - 1] + "\u2026"


def go_quote(text: str) -> str:
    """strconv.Quote for the printable text `ps` shows."""
    out = ['"']
    for ch in text:
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)
