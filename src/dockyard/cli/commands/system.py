"""`info`, `version`, and the prune commands."""

from __future__ import annotations

import sys

from ..flags import Command, Flag, parse

INFO = Command("info", "[OPTIONS]", "Display system-wide information",
               [Flag("-f, --format", "str", "Format output using a custom template")], max_args=0,
               aliases=("system info",))
VERSION = Command("version", "[OPTIONS]", "Show the Dockyard version information",
                  [Flag("-f, --format", "str", "Format output using a custom template")], max_args=0)
SYSTEM_PRUNE = Command("system prune", "[OPTIONS]", "Remove unused data", [
    Flag("-a, --all", "bool", "Remove all unused images not just dangling ones"),
    Flag("-f, --force", "bool", "Do not prompt for confirmation"),
    Flag("--volumes", "bool", "Prune anonymous volumes"),
], max_args=0)
CONTAINER_PRUNE = Command("container prune", "[OPTIONS]", "Remove all stopped containers", [
    Flag("-f, --force", "bool", "Do not prompt for confirmation"),
], max_args=0)
IMAGE_PRUNE = Command("image prune", "[OPTIONS]", "Remove unused images", [
    Flag("-a, --all", "bool", "Remove all unused images, not just dangling ones"),
    Flag("-f, --force", "bool", "Do not prompt for confirmation"),
], max_args=0)


def info(ctx, argv: list[str]) -> int:
    o, _ = parse(INFO, argv)
    if o["help"]:
        sys.stdout.write(INFO.help_text())
        return 0
    from ...core.units import bytes_size

    i = ctx.engine().info()
    if o["format"] is not None:
        from ..template import render

        sys.stdout.write(render(o["format"], i) + "\n")
        return 0
    v = ctx.engine().version()
    lines = [
        "Client:",
        f" Version:    {v['Version']}",
        " Context:    default",
        "",
        "Server:",
        f" Containers: {i['Containers']}",
        f"  Running: {i['ContainersRunning']}",
        f"  Paused: {i['ContainersPaused']}",
        f"  Stopped: {i['ContainersStopped']}",
        f" Images: {i['Images']}",
        f" Server Version: {i['ServerVersion']}",
        f" Storage Driver: {i['Driver']}",
        f"  Copies layers per container: {'yes (vfs)' if i['Driver'] == 'vfs' else 'no (overlayfs)'}",
        f" Logging Driver: {i['LoggingDriver']}",
        f" Cgroup Driver: {i['CgroupDriver']}",
        f" Cgroup Version: {i['CgroupVersion']}",
        f" Runtimes: {' '.join(i['Runtimes'])}",
        f" Default Runtime: {i['DefaultRuntime']}",
        f" Kernel Version: {i['KernelVersion']}",
        f" Operating System: {i['OperatingSystem']}",
        f" OSType: {i['OSType']}",
        f" Architecture: {i['Architecture']}",
        f" CPUs: {i['NCPU']}",
        f" Total Memory: {bytes_size(i['MemTotal'])}",
        f" Name: {i['Name']}",
        f" Dockyard Root Dir: {i['DockerRootDir']}",
        f" Dockyard Run Root: {i['RunRoot']}",
        "",
    ]
    sys.stdout.write("\n".join(lines))
    return 0


def version(ctx, argv: list[str]) -> int:
    o, _ = parse(VERSION, argv)
    if o["help"]:
        sys.stdout.write(VERSION.help_text())
        return 0
    v = ctx.engine().version()
    if o["format"] is not None:
        from ..template import render

        sys.stdout.write(render(o["format"], {"Client": v, "Server": v}) + "\n")
        return 0
    sys.stdout.write(
        "Client:\n"
        f" Version:           {v['Version']}\n"
        f" Python version:    {v['PythonVersion']}\n"
        f" OS/Arch:           {v['Os']}/{v['Arch']}\n"
        "\n"
        "Engine:\n"
        f" Version:           {v['Version']}\n"
        " Daemon:            none (each command does its work; a monitor per running container)\n"
        f" Kernel:            {v['KernelVersion']}\n")
    return 0


def _confirm(warning: str) -> bool:
    sys.stdout.write(warning + "\nAre you sure you want to continue? [y/N] ")
    sys.stdout.flush()
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")


def _print_results(containers: list[str], images: list[tuple[str, str]], freed: int) -> None:
    from ...core.units import human_size

    out = []
    if containers:
        out.append("Deleted Containers:")
        out += containers
        out.append("")
    if images:
        out.append("Deleted Images:")
        out += [f"{kind}: {what}" for kind, what in images]
        out.append("")
    out.append(f"Total reclaimed space: {human_size(freed)}")
    sys.stdout.write("\n".join(out) + "\n")


def system_prune(ctx, argv: list[str]) -> int:
    o, _ = parse(SYSTEM_PRUNE, argv)
    if o["help"]:
        sys.stdout.write(SYSTEM_PRUNE.help_text())
        return 0
    what = "all images without at least one container associated to them" if o["all"] else "all dangling images"
    if not o["force"] and not _confirm(
            f"WARNING! This will remove:\n  - all stopped containers\n  - {what}\n  - unused build cache\n"):
        return 0
    engine = ctx.engine()
    containers, freed_c = engine.prune_containers()
    images, freed_i = engine.prune_images(all=o["all"])
    cache_keys, freed_b = engine.prune_build_cache()  # build/cache.py: entries, then a sweep
    if cache_keys:
        sys.stdout.write("Deleted build cache objects:\n" + "".join(k[:25] + "\n" for k in cache_keys) + "\n")
    _print_results(containers, images, freed_c + freed_i + freed_b)
    return 0


def container_prune(ctx, argv: list[str]) -> int:
    o, _ = parse(CONTAINER_PRUNE, argv)
    if o["help"]:
        sys.stdout.write(CONTAINER_PRUNE.help_text())
        return 0
    if not o["force"] and not _confirm("WARNING! This will remove all stopped containers."):
        return 0
    containers, freed = ctx.engine().prune_containers()
    _print_results(containers, [], freed)
    return 0


def image_prune(ctx, argv: list[str]) -> int:
    o, _ = parse(IMAGE_PRUNE, argv)
    if o["help"]:
        sys.stdout.write(IMAGE_PRUNE.help_text())
        return 0
    warning = ("WARNING! This will remove all images without at least one container associated to them."
               if o["all"] else "WARNING! This will remove all dangling images.")
    if not o["force"] and not _confirm(warning):
        return 0
    images, freed = ctx.engine().prune_images(all=o["all"])
    _print_results([], images, freed)
    return 0
