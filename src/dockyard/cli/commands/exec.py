"""`exec` (and `container exec`): a command in a running container.

Kept lean, since `exec ID CMD` is a latency benchmark: the flags, then the Engine
(services/exec.py) does the work. Without -t the command writes straight to our
stdout and stderr and we wait for it, passing on the signals we get; with -t this
module drives the terminal: raw mode (with -i), window size on SIGWINCH, the detach
keys, and the terminal restored on every way out.
"""

from __future__ import annotations

import os
import sys

from ..flags import Command, Flag, parse

EXEC = Command("exec", "[OPTIONS] CONTAINER COMMAND [ARG...]", "Execute a command in a running container", [
    Flag("-d, --detach", "bool", "Detached mode: run command in the background"),
    Flag("--detach-keys", "str", "Override the key sequence for detaching a container"),
    Flag("-e, --env", "list", "Set environment variables"),
    Flag("--env-file", "list", "Read in a file of environment variables"),
    Flag("-i, --interactive", "bool", "Keep STDIN open even if not attached"),
    Flag("--privileged", "bool", "Give extended privileges to the command"),
    Flag("-t, --tty", "bool", "Allocate a pseudo-TTY"),
    Flag("-u, --user", "str", 'Username or UID (format: "<name|uid>[:<group|gid>]")'),
    Flag("-w, --workdir", "str", "Working directory inside the container"),
], interspersed=False, min_args=2, aliases=("container exec",))


def _env(o: dict) -> list[str]:
    """-e K=V sets; -e K takes our value of K, or unsets K when we have none (Docker)."""
    env: list[str] = []
    if o["env_file"]:
        from ...services.options import parse_env_file

        for path in o["env_file"]:
            env += parse_env_file(path)
    for e in o["env"] or []:
        if "=" not in e and e in os.environ:
            e = f"{e}={os.environ[e]}"
        env.append(e)
    return env


def exec_(ctx, argv: list[str]) -> int:
    o, args = parse(EXEC, argv)
    if o["help"]:
        sys.stdout.write(EXEC.help_text())
        return 0
    ref, cmd = args[0], args[1:]
    tty, interactive, detach = o["tty"], o["interactive"], o["detach"]
    keys = None
    if tty and interactive and not detach:
        from ...errors import DockyardError
        from ..terminal import DEFAULT_DETACH_KEYS, parse_detach_keys

        if not os.isatty(0):
            sys.stderr.write("the input device is not a TTY\n")
            return 1
        try:
            keys = parse_detach_keys(o["detach_keys"] or DEFAULT_DETACH_KEYS)
        except ValueError:
            raise DockyardError(f"Invalid escape keys ({o['detach_keys']}) provided") from None
    size = None
    if tty:
        from ..terminal import size as terminal_size

        size = terminal_size(1) or terminal_size(0)
    engine = ctx.engine()
    sys.stdout.flush()
    from ...errors import StartError

    try:
        proc = engine.exec_start(ref, cmd, tty=tty, stdin=0 if interactive and not detach else None,
                                 stdout=1, stderr=2, env=_env(o), workdir=o["workdir"], user=o["user"],
                                 privileged=o["privileged"], detach=detach, console_size=size)
    except StartError as e:
        if detach:
            raise  # the daemon's refusal: "Error: ..." and exit 1, as Docker's -d
        sys.stderr.write(e.message + "\n")
        return e.exit_code
    if detach:
        return 0
    if not tty:
        _proxy_signals(proc.pid)
        return proc.wait()
    return _terminal(proc, interactive, keys)


def _proxy_signals(pid: int) -> None:
    """Without a terminal the process is in a session of its own: what we get (Ctrl-C
    at our terminal, a kill) goes on to it, as `run`'s --sig-proxy does."""
    import _signal

    from ...services.exec import PROXIED_SIGNALS

    def forward(signum, frame):
        try:
            os.kill(pid, signum)
        except OSError:
            pass

    for s in PROXIED_SIGNALS:
        _signal.signal(s, forward)


def _terminal(proc, interactive: bool, keys: bytes | None) -> int:
    import _signal

    from ..terminal import DetachKeys, raw, size

    def resize(signum=None, frame=None):
        got = size(1) or size(0)
        if got:
            proc.resize(*got)

    _signal.signal(_signal.SIGWINCH, resize)
    resize()  # it may have changed since the pty was made
    detach = DetachKeys(keys) if keys else None
    with raw(0) if interactive else _Nothing():
        code = proc.pump(0 if interactive else None, 1, detach.feed if detach else None)
    if code is None:
        sys.stderr.write("read escape sequence\n")  # Docker's words on detaching
        return 1
    return code


class _Nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass
