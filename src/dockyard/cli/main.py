"""`dockyard`: Docker's command line over the Engine API.

Only the module of the command being run is imported, so `dockyard run` loads
the run path and nothing else. Every error becomes one line on stderr and
Docker's exit code; a traceback is shown only with DOCKYARD_DEBUG=1.
"""

from __future__ import annotations

import gc
import os
import sys

# A command lives for milliseconds to seconds and makes few reference cycles, but
# importing its modules allocates enough objects to set off dozens of young-generation
# collections (~3 ms of `run`'s start-up); collect far less often instead.
gc.set_threshold(100_000, 50, 100)

# command -> (module under dockyard.cli.commands, function)
COMMANDS = {
    "run": ("run", "run"), "create": ("run", "create"), "start": ("run", "start"),
    "ps": ("ps", "ps"), "logs": ("logs", "logs"),
    "stop": ("lifecycle", "stop"), "kill": ("lifecycle", "kill"), "rm": ("lifecycle", "rm"),
    "wait": ("lifecycle", "wait"), "exec": ("exec", "exec_"), "attach": ("attach", "attach"),
    "restart": ("lifecycle", "restart"), "pause": ("lifecycle", "pause"), "unpause": ("lifecycle", "unpause"),
    "rename": ("lifecycle", "rename"), "top": ("lifecycle", "top"), "port": ("lifecycle", "port"),
    "stats": ("stats", "stats"), "events": ("events", "events"),
    "images": ("images", "images"), "rmi": ("images", "rmi"), "load": ("images", "load"),
    "import": ("images", "import_"), "inspect": ("inspect", "inspect"),
    "info": ("system", "info"), "version": ("system", "version"),
    "pull": ("pull", "pull"), "push": ("pull", "push"), "login": ("login", "login"),
    "logout": ("login", "logout"), "tag": ("images", "tag"), "save": ("images", "save"),
    "history": ("images", "history"), "export": ("export", "export"),
    "commit": ("commit", "commit"), "diff": ("commit", "diff"), "cp": ("commit", "cp"),
    "build": ("build", "build"),
}
# management commands: `dockyard container ls` is `dockyard ps`, and so on
GROUPS = {
    "container": {"run": "run", "create": "create", "start": "start", "ls": "ps", "list": "ps",
                  "ps": "ps", "logs": "logs", "stop": "stop", "kill": "kill", "rm": "rm",
                  "restart": "restart", "pause": "pause", "unpause": "unpause", "rename": "rename",
                  "top": "top", "port": "port", "stats": "stats", "attach": "attach",
                  "remove": "rm", "wait": "wait", "exec": "exec", "inspect": "inspect", "prune": "container prune",
                  "export": "export", "commit": "commit", "diff": "diff", "cp": "cp"},
    "image": {"ls": "images", "list": "images", "rm": "rmi", "remove": "rmi", "load": "load",
              "import": "import", "inspect": "inspect", "prune": "image prune", "pull": "pull",
              "push": "push", "tag": "tag", "save": "save", "history": "history",
              "build": "build"},
    "system": {"prune": "system prune", "info": "info", "events": "events"},
    "builder": {"build": "build", "prune": "builder prune"},
}
PRUNES = {"system prune": "system_prune", "container prune": "container_prune",
          "image prune": "image_prune"}
# prunes implemented outside cli/commands/system.py: name -> (module, function)
OTHER_PRUNES = {"builder prune": ("build", "builder_prune")}
RUN_FAMILY = ("run", "create", "start")
# a registry fault (unknown tag, refused credentials, registry down, a digest that
# does not match, another platform only) exits 125, the engine-error code, the same
# whether `run`'s own pull or `pull` met it (where the docker CLI says 1)
REGISTRY_COMMANDS = ("pull", "push", "login")

SUMMARY = "A container engine with Docker's command line, in Python, without a daemon"
HELP_GROUPS = (
    ("Common Commands", ("run", "exec", "ps", "build", "images", "pull", "push", "login", "logout", "logs", "info",
                         "version")),
    ("Management Commands", ("builder", "container", "image", "system")),
    ("Commands", ("attach", "commit", "cp", "create", "diff", "events", "export", "history", "import", "inspect", "kill", "load",
                  "pause", "port", "rename", "restart",
                  "rm", "rmi", "save", "start", "stats", "stop", "tag", "top", "unpause", "wait")),
)
DESCRIPTIONS = {
    "run": "Create and run a new container from an image",
    "exec": "Execute a command in a running container",
    "attach": "Attach local standard input, output, and error streams to a running container",
    "ps": "List containers", "images": "List images", "logs": "Fetch the logs of a container",
    "info": "Display system-wide information", "version": "Show the Dockyard version information",
    "container": "Manage containers", "image": "Manage images", "system": "Manage Dockyard",
    "create": "Create a new container", "import": "Import the contents from a tarball to create a filesystem image",
    "inspect": "Return low-level information on Dockyard objects", "kill": "Kill one or more running containers",
    "load": "Load an image from a tar archive or STDIN", "rm": "Remove one or more containers",
    "rmi": "Remove one or more images", "start": "Start one or more stopped containers",
    "stop": "Stop one or more running containers",
    "pull": "Download an image from a registry", "push": "Upload an image to a registry",
    "login": "Log in to a registry", "logout": "Log out from a registry",
    "tag": "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
    "save": "Save one or more images to a tar archive (streamed to STDOUT by default)",
    "history": "Show the history of an image", "export": "Export a container's filesystem as a tar archive",
    "wait": "Block until one or more containers stop, then print their exit codes",
    "restart": "Restart one or more containers", "pause": "Pause all processes within one or more containers",
    "unpause": "Unpause all processes within one or more containers", "rename": "Rename a container",
    "top": "Display the running processes of a container",
    "port": "List port mappings or a specific mapping for the container",
    "stats": "Display a live stream of container(s) resource usage statistics",
    "events": "Get real time events from the server",
    "build": "Build an image from a Dockerfile", "builder": "Manage builds",
    "commit": "Create a new image from a container's changes",
    "cp": "Copy files/folders between a container and the local filesystem",
    "diff": "Inspect changes to files or directories on a container's filesystem",
}


class Context:
    """What a command gets: global options and the Engine, opened on first use."""

    def __init__(self, root: str | None, runroot: str | None) -> None:
        self.root = root
        self.runroot = runroot
        self._engine = None

    def engine(self):
        if self._engine is None:
            from ..services.engine import Engine

            self._engine = Engine(self.root, self.runroot)
            self._engine.revive_after_boot()  # after a reboot: restart policies (one stat otherwise)
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()


def _global_help() -> str:
    lines = ["", "Usage:  dockyard [OPTIONS] COMMAND", "", SUMMARY]
    for title, names in HELP_GROUPS:
        lines += ["", f"{title}:"]
        lines += [f"  {n.ljust(12)}{DESCRIPTIONS[n]}" for n in names]
    lines += ["", "Global Options:",
              "      --root string      Root of the store (default \"/var/lib/dockyard\", or $DOCKYARD_ROOT)",
              "      --runroot string   Root of volatile state (default \"/run/dockyard\", or $DOCKYARD_RUNROOT)",
              "  -D, --debug            Show tracebacks of internal errors",
              "  -v, --version          Print version information and quit",
              "  -h, --help             Print usage",
              "", "Run 'dockyard COMMAND --help' for more information on a command.", ""]
    return "\n".join(lines)


def _group_help(group: str) -> str:
    lines = ["", f"Usage:  dockyard {group} COMMAND", "", DESCRIPTIONS[group], "", "Commands:"]
    for sub, target in GROUPS[group].items():
        desc = DESCRIPTIONS.get(target) or {"container prune": "Remove all stopped containers",
                                         "images": "List images", "rmi": "Remove one or more images",
                                         "image prune": "Remove unused images",
                                         "system prune": "Remove unused data",
                                         "builder prune": "Remove build cache"}.get(target, "")
        lines.append(f"  {sub.ljust(12)}{desc}")
    lines += ["", f"Run 'dockyard {group} COMMAND --help' for more information on a command.", ""]
    return "\n".join(lines)


def _err(line: str) -> None:
    try:
        sys.stderr.write(line.rstrip("\n") + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def run_and_exit() -> None:
    """The `dockyard` command: main(), then exit without the interpreter's teardown
    (module cleanup and GC cost ~3 ms and there is nothing left to release; the
    engine's database is closed in main and the std streams are flushed here)."""
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            if code == 0:
                code = 141 if stream is sys.stdout else code
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    root = runroot = None
    debug = bool(os.environ.get("DOCKYARD_DEBUG"))
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        a = argv[i]
        name, eq, val = a.partition("=")
        if name in ("--root", "--runroot"):
            if not eq:
                if i + 1 >= len(argv):
                    _err(f"dockyard: flag needs an argument: {name}")
                    return 125
                i += 1
                val = argv[i]
            if name == "--root":
                root = val
            else:
                runroot = val
        elif a in ("-D", "--debug"):
            debug = True
        elif a in ("-v", "--version"):
            from .. import __version__

            print(f"Dockyard version {__version__}")
            return 0
        elif a in ("-h", "--help"):
            sys.stdout.write(_global_help())
            return 0
        else:
            _err(f"dockyard: unknown flag: {a}. See 'dockyard --help'.")
            return 125
        i += 1
    rest = argv[i:]
    if not rest:
        sys.stdout.write(_global_help())
        return 0
    name, rest = rest[0], rest[1:]
    if name in GROUPS:
        if not rest or rest[0] in ("-h", "--help"):
            sys.stdout.write(_group_help(name))
            return 0
        sub = GROUPS[name].get(rest[0])
        if sub is None:
            _err(f"dockyard: '{name} {rest[0]}' is not a dockyard command. See 'dockyard {name} --help'.")
            return 125
        name, rest = sub, rest[1:]
    if name == "help":
        sys.stdout.write(_global_help())
        return 0
    if name in OTHER_PRUNES:
        module, func = OTHER_PRUNES[name]
    elif name in PRUNES:
        module, func = "system", PRUNES[name]
    elif name in COMMANDS:
        module, func = COMMANDS[name]
    else:
        _err(f"dockyard: '{name}' is not a dockyard command. See 'dockyard --help'.")
        return 125
    if os.geteuid() != 0 and name != "version" and not ({"-h", "--help"} & set(rest)):
        _err("dockyard: this command needs root (containers need namespaces, mounts and cgroups)")
        return 125
    ctx = Context(root, runroot)
    from ..errors import DockyardError
    from .flags import UsageError

    try:
        mod = __import__(f"dockyard.cli.commands.{module}", fromlist=[func])
        return getattr(mod, func)(ctx, rest)
    except UsageError as e:
        msg = e.message if e.message.endswith(".") else e.message + "."
        _err(f"dockyard: {msg} See 'dockyard {e.command} --help'.")
        return 125
    except DockyardError as e:
        if name in RUN_FAMILY:
            # Docker prints this one bare: it is also the line shown before a pull
            plain = e.message.startswith("Unable to find image")
            _err(e.message if plain else f"dockyard: {e.message}")
            return e.exit_code
        _err(f"Error: {e.message}")
        return e.exit_code if name in REGISTRY_COMMANDS else e.status
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        try:
            sys.stdout = None  # the reader went away: say nothing more
        except Exception:
            pass
        return 141
    except Exception as e:
        if debug:
            import traceback

            traceback.print_exc()
        else:
            what = f"{e.strerror}: {e.filename}" if isinstance(e, OSError) and e.filename else str(e)
            _err(f"Error: {type(e).__name__}: {what} (set DOCKYARD_DEBUG=1 for a traceback)")
        return 125
    finally:
        ctx.close()
