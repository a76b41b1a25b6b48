"""The Go template subset behind --format."""

import pytest

from dockyard.cli.template import Formatter, TemplateError, render, tabwrite
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


@pytest.mark.parametrize("tpl,out", [
    ("{{.State.Status | upper}}", "EXITED"),
    ("{{.Name | printf \"%s!\"}}", "/web!"),
    ("{{lower \"AbC\"}} {{title \"hello world\"}}", "abc Hello World"),
    ("{{split \"a,b\" \",\"}}", "[a b]"),
    ("{{join (split \"a,b,c\" \",\") \"-\"}}", "a-b-c"),
    ("{{range $i, $e := .Config.Env}}{{$i}}={{$e}};{{end}}", "0=A=1;1=B=2;"),
    ("{{range $k, $v := .Config.Labels}}{{$k}}:{{$v}}{{end}}", "k:v"),
    ("{{range .Config.Env}}{{$.Name}}{{end}}", "/web/web"),
    ("{{range .Nothing}}x{{else}}empty{{end}}", "empty"),
    ("{{if eq .State.Status \"exited\"}}E{{else if eq .State.Status \"running\"}}R{{end}}", "E"),
    ("{{if and .State.Running .Name}}a{{else}}b{{end}}", "b"),
    ("{{if or .State.Running .Name}}a{{else}}b{{end}}", "a"),
    ("{{if not .State.Running}}stopped{{end}}", "stopped"),
    ("{{$x := .State.ExitCode}}{{$x}}", "3"),
    ("{{with $s := .State}}{{$s.Status}}{{end}}", "exited"),
    ("{{index .Config.Env 1}}", "B=2"),
    ("{{index .Config.Labels \"nope\"}}", ""),
    ("{{len .Config.Labels}}", "1"),
    ("{{println .Name}}", "/web\n"),
    ("{{printf \"%5d|%-4s|%q|%v\" 42 \"ab\" \"x\" .Config.Env}}", "   42|ab  |\"x\"|[A=1 B=2]"),
    ("{{/* a comment */}}x", "x"),
    ("a\n  {{- .Name -}}\n  b", "a/webb"),
    ("{{- .Name}} {{.State.ExitCode -}} ", "/web 3"),
    ("{{gt .State.ExitCode 2}} {{lt 1 2}} {{ne \"a\" \"b\"}}", "true true true"),
    ("{{json .State}}", '{"Status":"exited","ExitCode":3,"Running":false}'),
    ("{{range .Config.Cmd}}{{if eq . \"hi\"}}{{break}}{{end}}{{.}}{{end}}", "echo"),
    ("{{pad .Name 1 2}}|", " /web  |"),
    ("{{truncate .Name 2}}", "/w"),
    ("{{(index .Config.Env 0) | lower}}", "a=1"),
    ("{{.State.Missing.Deeper}}", "<no value>"),
    ("{{slice .Name 1 3}}", "we"),
    ("{{print 1 2 \"x\" 3}}", "1 2x3"),
    ("{{1.5}} {{1e6}} {{100.0}}", "1.5 1e+06 100"),
])
def test_render_more(tpl, out):
    assert render(tpl, DOC) == out


@pytest.mark.parametrize("tpl,msg", [
    ("{{.Name", "template parsing error: template: :1: unclosed action"),
    ("{{nosuch .X}}", 'template parsing error: template: :1: function "nosuch" not defined'),
    ("{{if .Name}}x", "template parsing error: template: :1: unexpected EOF"),
    ("{{end}}", "template parsing error: template: :1: unexpected {{end}}"),
    ("{{$nope}}", 'template parsing error: template: :1: undefined variable "$nope"'),
    ("{{index .Name 1 | x}}", 'template parsing error: template: :1: function "x" not defined'),
    ("a\n{{.Name | upper 3}}", "template parsing error: template: :2:"),
    ("{{.Name.First}}", 'template parsing error: template: :1:2: executing "" at <.Name.First>: '
                        "can't evaluate field First in type string"),
])
def test_errors(tpl, msg):
    with pytest.raises(TemplateError) as e:
        render(tpl, DOC)
    assert e.value.message.startswith(msg), e.value.message
    assert e.value.status == 1


def test_strict_maps_like_docker_inspect():
    assert render("{{.Config.Labels.other}}", DOC, strict_maps={"Labels"}) == "<no value>"
    with pytest.raises(TemplateError) as e:
        render("{{.State.Health.Status}}", DOC, strict_maps={"Labels"})
    assert 'map has no entry for key "Health"' in e.value.message


class Row:
    go_type = "*formatter.ContainerContext"

    def __init__(self, i, n):
        self._i, self._n = i, n

    def ID(self):
        return self._i

    def Names(self):
        return self._n

    def Label(self, k):
        return {"a": "1"}.get(k, "")

    def to_json(self):
        return {"ID": self._i, "Names": self._n}


def test_formatter_table_and_json():
    headers = {"ID": "CONTAINER ID", "Names": "NAMES"}
    out = Formatter("table {{.ID}}\\t{{.Names}}", headers).render([Row("abc", "web"), Row("0123456789abcdef", "db")])
    assert out == ("CONTAINER ID       NAMES\n"
                   "abc                web\n"
                   "0123456789abcdef   db\n")
    assert Formatter("table {{.Names | upper}}", headers).render([Row("a", "web")]) == "NAMES\nWEB\n"
    assert Formatter("{{json .}}", headers).render([Row("a", "w")]) == '{"ID":"a","Names":"w"}\n'
    assert Formatter('{{.Label "a"}}-{{.ID}}', headers).render([Row("x", "w")]) == "1-x\n"
    with pytest.raises(TemplateError) as e:
        Formatter("{{.Nope}}", headers).render([Row("x", "w")])
    assert e.value.message == ('template parsing error: template: :1:2: executing "" at <.Nope>: '
                               "can't evaluate field Nope in type *formatter.ContainerContext")
    assert Formatter("table {{.ID}}", headers).render([]) == "CONTAINER ID\n"


def test_tabwriter_blocks():
    assert tabwrite("a\tb\nlonger text\tc\n") == "a             b\nlonger text   c\n"
    assert tabwrite("x\ny\tz\n") == "x\ny         z\n"
