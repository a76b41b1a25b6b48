"""`dockyard-runtime`: the OCI runtime command line (runc's), over
runtime.standalone. For callers that bring an OCI bundle: containerd, podman
(`--runtime /usr/local/bin/dockyard-runtime`), the OCI conformance suite.

    dockyard-runtime [--root DIR] [--log FILE] [--log-format text|json] COMMAND
      create [--bundle DIR] [--pid-file FILE] [--console-socket PATH] ID
      start ID | state ID | kill [--all] ID [SIGNAL] | delete [--force] ID
      run [--bundle DIR] [--pid-file FILE] ID | list [-q] [--format table|json]
      spec [--bundle DIR]

Errors are one line on stderr (and, with --log, a line in the log, JSON with
--log-format json, as containerd reads it) and exit code 1.
"""

from __future__ import annotations

import os
import sys

USAGE = __doc__.split("\n\n")[1]

# per command: flags taking a value, boolean flags (runc's names and short forms)
_COMMANDS = {
    "create": ({"--bundle": "bundle", "-b": "bundle", "--pid-file": "pid_file",
                "--console-socket": "console_socket", "--preserve-fds": "preserve_fds"},
               {"--no-pivot": "no_pivot", "--no-new-keyring": "no_new_keyring"}),
    "run": ({"--bundle": "bundle", "-b": "bundle", "--pid-file": "pid_file",
             "--console-socket": "console_socket", "--preserve-fds": "preserve_fds"},
            {"--no-pivot": "no_pivot", "--no-new-keyring": "no_new_keyring", "--detach": "detach",
             "-d": "detach"}),
    "start": ({}, {}),
    "state": ({}, {}),
    "kill": ({}, {"--all": "all", "-a": "all"}),
    "delete": ({}, {"--force": "force", "-f": "force"}),
    "list": ({"--format": "format", "-f": "format"}, {"--quiet": "quiet", "-q": "quiet"}),
    "spec": ({"--bundle": "bundle", "-b": "bundle"}, {}),
}
_GLOBAL_VALUES = {"--root": "root", "--log": "log", "--log-format": "log_format", "--criu": "criu"}
_GLOBAL_BOOLS = {"--debug": "debug", "--systemd-cgroup": "systemd_cgroup", "--help": "help", "-h": "help",
                 "--version": "version", "-v": "version"}


class UsageError(Exception):
    pass


def _parse(argv: list[str], values: dict[str, str], bools: dict[str, str],
           stop_at_positional: bool) -> tuple[dict, list[str]]:
    opts: dict = {}
    rest: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            rest += argv[i + 1:]
            break
        if a.startswith("-") and len(a) > 1:
            name, eq, value = a.partition("=")
            if name.startswith("-") and not name.startswith("--") and len(name) > 2 and not eq:
                name, value, eq = name[:2], name[2:], "="  # -bDIR
            if name in values:
                if not eq:
                    i += 1
                    if i >= len(argv):
                        raise UsageError(f"flag needs an argument: {name}")
                    value = argv[i]
                opts[values[name]] = value
            elif name in bools:
                opts[bools[name]] = value.lower() not in ("false", "0") if eq else True
            else:
                raise UsageError(f"flag provided but not defined: {name}")
        else:
            if stop_at_positional:
                return opts, argv[i:]
            rest.append(a)
        i += 1
    return opts, rest


def _log(g: dict, level: str, message: str) -> None:
    path = g.get("log")
    if not path:
        return
    from ..core.clock import now_ns, rfc3339

    try:
        with open(path, "a") as f:
            if g.get("log_format") == "json":
                import json

                f.write(json.dumps({"level": level, "msg": message, "time": rfc3339(now_ns())}) + "\n")
            else:
                f.write(f'time="{rfc3339(now_ns())}" level={level} msg="{message}"\n')
    except OSError:
        pass


def _one_id(args: list[str], command: str, extra: int = 0) -> list[str]:
    if not 1 <= len(args) <= 1 + extra:
        n = "exactly 1" if not extra else f"1 to {1 + extra}"
        raise UsageError(f'"{command}" requires {n} argument(s)')
    return args


def _warm_cgroups() -> int:
    """Fork a throwaway process that moves itself within its own cgroup, first thing:
    the ~10 ms kernel wait that the first cgroup.procs write after a quiet spell
    costs (see cgroups.warm_up) then passes while this process loads its code,
    rather than when the container joins its cgroup."""
    pid = os.fork()
    if pid == 0:
        try:
            from ..cgroups import warm_up

            warm_up()
        finally:
            os._exit(0)
    return pid


def main(argv: list[str]) -> int:
    warmer = _warm_cgroups() if "create" in argv or "run" in argv else 0
    try:
        return _main(argv)
    finally:
        if warmer:
            os.waitpid(warmer, 0)


def _main(argv: list[str]) -> int:
    from ..errors import DockyardError
    from ..runtime.standalone import lifecycle
    from ..runtime.standalone.state import DEFAULT_ROOT

    g: dict = {}
    try:
        g, rest = _parse(argv, _GLOBAL_VALUES, _GLOBAL_BOOLS, stop_at_positional=True)
        if g.get("version"):
            from .. import __version__

            print(f"dockyard-runtime version {__version__}\nspec: 1.3.0")
            return 0
        if g.get("help") or not rest or rest[0] == "help":
            print(USAGE)
            return 0
        command, args = rest[0], rest[1:]
        if command not in _COMMANDS:
            raise UsageError(f"unknown command {command!r}")
        if g.get("systemd_cgroup"):
            raise UsageError("the systemd cgroup driver is not supported: cgroups are managed directly")
        opts, args = _parse(args, *_COMMANDS[command], stop_at_positional=False)
        root = os.path.abspath(g.get("root") or DEFAULT_ROOT)
        warnings: list[str] = []
        if command == "create":
            (cid,) = _one_id(args, command)
            if opts.get("preserve_fds") not in (None, "0"):
                raise UsageError("--preserve-fds is not supported")
            warnings = lifecycle.create(root, cid, opts.get("bundle"), opts.get("pid_file"),
                                        opts.get("console_socket"))
        elif command == "run":
            (cid,) = _one_id(args, command)
            if opts.get("detach"):
                warnings = lifecycle.create(root, cid, opts.get("bundle"), opts.get("pid_file"),
                                            opts.get("console_socket"))
                warnings += lifecycle.start(root, cid)
            else:
                if opts.get("console_socket"):
                    raise UsageError("--console-socket needs --detach")
                return lifecycle.run(root, cid, opts.get("bundle"), opts.get("pid_file"))
        elif command == "start":
            (cid,) = _one_id(args, command)
            warnings = lifecycle.start(root, cid)
        elif command == "state":
            (cid,) = _one_id(args, command)
            from ..core import jsonenc

            print(jsonenc.dumps(lifecycle.state(root, cid)))
        elif command == "kill":
            cid, *sig = _one_id(args, command, extra=1)
            lifecycle.kill(root, cid, sig[0] if sig else "TERM", bool(opts.get("all")))
        elif command == "delete":
            (cid,) = _one_id(args, command)
            warnings = lifecycle.delete(root, cid, bool(opts.get("force")))
        elif command == "list":
            _list(lifecycle.list_containers(root), opts)
        elif command == "spec":
            from ..runtime.standalone.template import write_default_spec

            write_default_spec(opts.get("bundle") or ".")
        for w in warnings:
            print(f"dockyard-runtime: warning: {w}", file=sys.stderr)
            _log(g, "warning", w)
        return 0
    except UsageError as e:
        print(f"dockyard-runtime: {e}", file=sys.stderr)
        _log(g, "error", str(e))
        return 1
    except DockyardError as e:
        print(f"dockyard-runtime: {e.message}", file=sys.stderr)
        _log(g, "error", e.message)
        return 1
    except OSError as e:
        message = f"{e.strerror or e}{': ' + e.filename if e.filename else ''}"
        print(f"dockyard-runtime: {message}", file=sys.stderr)
        _log(g, "error", message)
        return 1


def _list(docs: list[dict], opts: dict) -> None:
    fmt = opts.get("format") or "table"
    if opts.get("quiet"):
        for d in docs:
            print(d["id"])
    elif fmt == "json":
        import json

        print(json.dumps(docs))
    elif fmt == "table":
        rows = [("ID", "PID", "STATUS", "BUNDLE", "CREATED")]
        rows += [(d["id"], str(d["pid"]), d["status"], d["bundle"], d["created"]) for d in docs]
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        for r in rows:
            print("   ".join(r[i].ljust(widths[i]) for i in range(4)) + "   " + r[4])
    else:
        raise UsageError(f"invalid format option {fmt!r}: table or json")


def run_and_exit() -> None:
    if os.geteuid() != 0:
        print("dockyard-runtime: must be run as root (namespaces, mounts and cgroups need it)", file=sys.stderr)
        os._exit(1)
    if os.environ.get("DOCKYARD_DEBUG") == "1":
        code = main(sys.argv[1:])
    else:
        try:
            code = main(sys.argv[1:])
        except KeyboardInterrupt:
            code = 130
        except BaseException as e:  # never a traceback on a user's terminal
            print(f"dockyard-runtime: internal error: {type(e).__name__}: {e}", file=sys.stderr)
            code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
