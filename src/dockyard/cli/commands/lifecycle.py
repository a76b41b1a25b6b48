"""`stop`, `restart`, `kill`, `pause`, `unpause`, `rm`, `wait`, `rename`, `top`, `port`.

The commands taking several containers act on each, print the name as given for each
success and, like Docker, report every failure and exit 1 if any failed.
"""

from __future__ import annotations

import sys

from ..flags import Command, Flag, parse

STOP = Command("stop", "[OPTIONS] CONTAINER [CONTAINER...]", "Stop one or more running containers", [
    Flag("-s, --signal", "str", "Signal to send to the container"),
    Flag("-t, --timeout", "int", "Seconds to wait before killing the container"),
    Flag("--time", "int", "Seconds to wait before killing the container (deprecated: use --timeout)", hidden=True),
], min_args=1, aliases=("container stop",))
RESTART = Command("restart", "[OPTIONS] CONTAINER [CONTAINER...]", "Restart one or more containers", [
    Flag("-s, --signal", "str", "Signal to send to the container"),
    Flag("-t, --timeout", "int", "Seconds to wait before killing the container"),
    Flag("--time", "int", "Seconds to wait before killing the container (deprecated: use --timeout)", hidden=True),
], min_args=1, aliases=("container restart",))
KILL = Command("kill", "[OPTIONS] CONTAINER [CONTAINER...]", "Kill one or more running containers", [
    Flag("-s, --signal", "str", "Signal to send to the container", default="KILL"),
], min_args=1, aliases=("container kill",))
PAUSE = Command("pause", "CONTAINER [CONTAINER...]", "Pause all processes within one or more containers",
                [], min_args=1, aliases=("container pause",))
UNPAUSE = Command("unpause", "CONTAINER [CONTAINER...]", "Unpause all processes within one or more containers",
                  [], min_args=1, aliases=("container unpause",))
RM = Command("rm", "[OPTIONS] CONTAINER [CONTAINER...]", "Remove one or more containers", [
    Flag("-f, --force", "bool", "Force the removal of a running container (uses SIGKILL)"),
    Flag("-v, --volumes", "bool", "Remove anonymous volumes associated with the container"),
], min_args=1, aliases=("container rm", "container remove"))
WAIT = Command("wait", "CONTAINER [CONTAINER...]", "Block until one or more containers stop, then print their exit codes",
               [], min_args=1, aliases=("container wait",))
RENAME = Command("rename", "CONTAINER NEW_NAME", "Rename a container", [], min_args=2, max_args=2,
                 aliases=("container rename",))
TOP = Command("top", "CONTAINER [ps OPTIONS]", "Display the running processes of a container", [],
              min_args=1, interspersed=False, aliases=("container top",))
PORT = Command("port", "CONTAINER [PRIVATE_PORT[/PROTO]]",
               "List port mappings or a specific mapping for the container", [], min_args=1, max_args=2,
               aliases=("container port",))


def _each(refs: list[str], action) -> int:
    from ...errors import DockyardError

    failed = 0
    for ref in refs:
        try:
            out = action(ref)
            if out is not None:
                print(out)
                sys.stdout.flush()
        except DockyardError as e:
            sys.stderr.write(f"Error: {e.message}\n")
            failed += 1
    return 1 if failed else 0


def _check_signal(value: str | None) -> None:
    """A bad signal is refused before any container is touched."""
    if value:
        from ...services.signals import parse_signal

        parse_signal(value)


def stop(ctx, argv: list[str]) -> int:
    o, args = parse(STOP, argv)
    if o["help"]:
        sys.stdout.write(STOP.help_text())
        return 0
    _check_signal(o["signal"])
    engine = ctx.engine()
    timeout = o["timeout"] if o["timeout"] is not None else o["time"]

    def act(ref: str) -> str:
        engine.stop(ref, timeout, o["signal"])
        return ref

    return _each(args, act)


def restart(ctx, argv: list[str]) -> int:
    o, args = parse(RESTART, argv)
    if o["help"]:
        sys.stdout.write(RESTART.help_text())
        return 0
    _check_signal(o["signal"])
    engine = ctx.engine()
    timeout = o["timeout"] if o["timeout"] is not None else o["time"]

    def act(ref: str) -> str:
        engine.restart(ref, timeout, o["signal"])
        return ref

    return _each(args, act)


def kill(ctx, argv: list[str]) -> int:
    o, args = parse(KILL, argv)
    if o["help"]:
        sys.stdout.write(KILL.help_text())
        return 0
    _check_signal(o["signal"])
    engine = ctx.engine()

    def act(ref: str) -> str:
        engine.kill(ref, o["signal"])
        return ref

    return _each(args, act)


def pause(ctx, argv: list[str]) -> int:
    o, args = parse(PAUSE, argv)
    if o["help"]:
        sys.stdout.write(PAUSE.help_text())
        return 0
    engine = ctx.engine()

    def act(ref: str) -> str:
        engine.pause(ref)
        return ref

    return _each(args, act)


def unpause(ctx, argv: list[str]) -> int:
    o, args = parse(UNPAUSE, argv)
    if o["help"]:
        sys.stdout.write(UNPAUSE.help_text())
        return 0
    engine = ctx.engine()

    def act(ref: str) -> str:
        engine.unpause(ref)
        return ref

    return _each(args, act)


def rm(ctx, argv: list[str]) -> int:
    o, args = parse(RM, argv)
    if o["help"]:
        sys.stdout.write(RM.help_text())
        return 0
    engine = ctx.engine()

    def act(ref: str) -> str:
        engine.remove(ref, force=o["force"])
        return ref

    return _each(args, act)


def wait(ctx, argv: list[str]) -> int:
    o, args = parse(WAIT, argv)
    if o["help"]:
        sys.stdout.write(WAIT.help_text())
        return 0
    engine = ctx.engine()
    return _each(args, lambda ref: str(engine.wait(ref)))


def rename(ctx, argv: list[str]) -> int:
    o, args = parse(RENAME, argv)
    if o["help"]:
        sys.stdout.write(RENAME.help_text())
        return 0
    from ...errors import DockyardError

    try:
        ctx.engine().rename(args[0], args[1])
    except DockyardError as e:
        sys.stderr.write(f"Error: failed to rename container: {e.message}\n")
        return 1
    return 0


def top(ctx, argv: list[str]) -> int:
    o, args = parse(TOP, argv)
    if o["help"] and not args:
        sys.stdout.write(TOP.help_text())
        return 0
    from ..template import tabwrite

    titles, rows = ctx.engine().top(args[0], args[1:])
    text = "\t".join(titles) + "\n" + "".join("\t".join(r) + "\n" for r in rows)
    sys.stdout.write(tabwrite(text, minwidth=20, padding=3))
    return 0


def port(ctx, argv: list[str]) -> int:
    o, args = parse(PORT, argv)
    if o["help"]:
        sys.stdout.write(PORT.help_text())
        return 0
    lines = ctx.engine().port(args[0], args[1] if len(args) > 1 else None)
    if lines:
        sys.stdout.write("\n".join(lines) + "\n")
    return 0
