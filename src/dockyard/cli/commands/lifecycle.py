"""`stop`, `kill`, `rm`, `wait`: each takes one or more containers and, like Docker,
reports every failure and exits 1 if any failed."""

from __future__ import annotations

import sys

from ..flags import Command, Flag, parse

STOP = Command("stop", "[OPTIONS] CONTAINER [CONTAINER...]", "Stop one or more running containers", [
    Flag("-t, --time", "int", "Seconds to wait before killing the container"),
    Flag("--timeout", "int", "Seconds to wait before killing the container", hidden=True),
    Flag("-s, --signal", "str", "Signal to send to the container"),
], min_args=1, aliases=("container stop",))
KILL = Command("kill", "[OPTIONS] CONTAINER [CONTAINER...]", "Kill one or more running containers", [
    Flag("-s, --signal", "str", "Signal to send to the container", default="KILL"),
], min_args=1, aliases=("container kill",))
RM = Command("rm", "[OPTIONS] CONTAINER [CONTAINER...]", "Remove one or more containers", [
    Flag("-f, --force", "bool", "Force the removal of a running container (uses SIGKILL)"),
    Flag("-v, --volumes", "bool", "Remove anonymous volumes associated with the container"),
], min_args=1, aliases=("container rm", "container remove"))
WAIT = Command("wait", "CONTAINER [CONTAINER...]", "Block until one or more containers stop, then print their exit codes",
               [], min_args=1, aliases=("container wait",))


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


def stop(ctx, argv: list[str]) -> int:
    o, args = parse(STOP, argv)
    if o["help"]:
        sys.stdout.write(STOP.help_text())
        return 0
    engine = ctx.engine()
    timeout = o["time"] if o["time"] is not None else o["timeout"]

    def act(ref: str) -> str:
        if o["signal"]:
            from ...services.signals import parse_signal

            sig = parse_signal(o["signal"])
            c = engine.container(ref)
            engine._containers().stop(c, timeout, sig)
        else:
            engine.stop(ref, timeout)
        return ref

    return _each(args, act)


def kill(ctx, argv: list[str]) -> int:
    o, args = parse(KILL, argv)
    if o["help"]:
        sys.stdout.write(KILL.help_text())
        return 0
    from ...services.signals import parse_signal

    parse_signal(o["signal"])  # a bad signal is a usage error before any container is touched
    engine = ctx.engine()

    def act(ref: str) -> str:
        engine.kill(ref, o["signal"])
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
