"""The Go template subset behind --format."""

import pytest

from dockyard.cli.template import render
from dockyard.errors import InvalidArgument

DOC = {"State": {"Status": "exited", "ExitCode": 3, "Running": False},
       "Config": {"Env": ["A=1", "B=2"], "Cmd": ["echo", "hi"], "Labels": {"k": "v"}},
       "Name": "/web"}


@pytest.mark.parametrize("tpl,out", [
    ("{{.State.Status}} {{.State.ExitCode}}", "exited 3"),
    ("{{json .Config.Cmd}}", '["echo","hi"]'),
    ("{{.State.Running}}", "false"),
    ("{{.Config.Env}}", "[A=1 B=2]"),
    ("{{.Config.Labels}}", "map[k:v]"),
    ("{{index .Config.Labels \"k\"}}", "v"),
    ("{{join .Config.Env \",\"}}", "A=1,B=2"),
    ("{{range .Config.Env}}<{{.}}>{{end}}", "<A=1><B=2>"),
    ("{{if .State.Running}}up{{else}}down{{end}}", "down"),
    ("{{with .State}}{{.Status}}{{end}}", "exited"),
    ("{{.Name | upper}}", "/WEB"),
    ("{{printf \"%s=%d\" .Name .State.ExitCode}}", "/web=3"),
    ("{{len .Config.Env}}", "2"),
    ("{{.Missing}}", "<no value>"),
    ("a {{- \" b \" -}} c", "a b c"),
])
def test_render(tpl, out):
    assert render(tpl, DOC) == out


def test_unknown_function():
    with pytest.raises(InvalidArgument):
        render("{{nosuch .X}}", DOC)
