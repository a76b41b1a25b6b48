"""Docker's flag syntax: bundling, =values, repeats, and stopping at the image."""

import pytest

from dockyard.cli.commands.run import RUN
from dockyard.cli.commands.ps import PS
from dockyard.cli.flags import UsageError, parse


def test_run_stops_at_the_image():
    o, args = parse(RUN, ["-d", "--rm", "busybox", "sh", "-c", "echo -n hi", "--rm"])
    assert o["detach"] and o["rm"]
    assert args == ["busybox", "sh", "-c", "echo -n hi", "--rm"]


def test_bundled_short_flags_and_values():
    o, args = parse(RUN, ["-di", "-eA=1", "-e", "B=2", "--env=C=3", "-uroot", "-w/tmp", "img"])
    assert o["detach"] and o["interactive"]
    assert o["env"] == ["A=1", "B=2", "C=3"]
    assert o["user"] == "root" and o["workdir"] == "/tmp" and args == ["img"]


def test_bool_with_value():
    o, _ = parse(RUN, ["--rm=false", "--sig-proxy=false", "img"])
    assert o["rm"] is False and o["sig_proxy"] is False


def test_double_dash_ends_flags():
    o, args = parse(RUN, ["--", "img", "-d"])
    assert not o["detach"] and args == ["img", "-d"]


def test_hostname_short_flag_is_not_help():
    o, _ = parse(RUN, ["-h", "box", "img"])
    assert o["hostname"] == "box" and not o["help"]


@pytest.mark.parametrize("argv,msg", [
    (["--nope", "img"], "unknown flag: --nope"),
    (["-Z", "img"], "unknown shorthand flag: 'Z' in -Z"),
    (["--name"], "flag needs an argument: --name"),
    ([], '"dockyard run" requires at least 1 argument.'),
    (["--rm=maybe", "img"], 'invalid argument "maybe"'),
    (["--pids-limit", "x", "img"], 'invalid argument "x" for "--pids-limit" flag'),
])
def test_errors_read_like_docker(argv, msg):
    with pytest.raises(UsageError, match=msg.replace("(", r"\(").replace(")", r"\)")):
        parse(RUN, argv)


def test_no_args_command():
    with pytest.raises(UsageError, match="accepts no arguments"):
        parse(PS, ["extra"])


def test_help_text_lists_flags():
    text = RUN.help_text()
    assert text.startswith("Usage:  dockyard run [OPTIONS] IMAGE [COMMAND] [ARG...]")
    assert "-d, --detach" in text and "--memory-swap bytes" in text
