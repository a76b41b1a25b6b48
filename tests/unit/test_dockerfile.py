"""The Dockerfile parser and BuildKit's shell lexer (dockyard.build.dockerfile, .words)."""

import pytest

from dockyard.build import dockerfile as D
from dockyard.build.dockerfile import DockerfileError, parse, parse_line
from dockyard.build.words import expand, expand_heredoc, expand_words
from dockyard.errors import InvalidArgument


def only(text: str) -> D.Instruction:
    """The single instruction after a FROM."""
    df = parse("FROM busybox\n" + text)
    (ins,) = df.stages[0].instructions
    return ins


def error(text: str) -> DockerfileError:
    with pytest.raises(DockerfileError) as e:
        parse(text)
    return e.value


# -- lines: continuations, comments, directives ---------------------------------------

def test_minimal_dockerfile():
    df = parse("FROM busybox\nRUN echo hi\n")
    assert df.escape == "\\" and df.syntax is None and df.meta_args == []
    (stage,) = df.stages
    assert (stage.name, stage.base, stage.platform, stage.index, stage.line) == (None, "busybox", None, 0, 1)
    (run,) = stage.instructions
    assert (run.cmd, run.args, run.json, run.line, run.end_line) == ("RUN", ["echo hi"], False, 2, 2)
    assert run.original == "RUN echo hi" and str(run) == "RUN echo hi"


def test_instructions_are_case_insensitive():
    ins = only("rUn echo hi")
    assert ins.cmd == "RUN" and ins.args == ["echo hi"]
    assert parse("from busybox as Build\n").stages[0].name == "build"


def test_continuation_joins_lines_and_keeps_indentation():
    ins = only("RUN echo a \\\n    b \\\n\tc")
    assert ins.args == ["echo a     b \tc"]
    assert (ins.line, ins.end_line) == (2, 4)


def test_comments_and_blank_lines_inside_a_continuation_are_skipped():
    df = parse("FROM busybox\nRUN echo a \\\n# a comment\n\n   # indented comment\n  b\nRUN next\n")
    first, second = df.stages[0].instructions
    assert first.args == ["echo a   b"]
    assert (first.line, first.end_line, second.line) == (2, 6, 7)
    assert any("Empty continuation line" in w for w in df.warnings)


def test_comment_lines_and_trailing_text_are_not_comments_inside_instructions():
    df = parse("# leading comment\nFROM busybox\n  # indented comment\nRUN echo # not a comment\n")
    assert df.stages[0].instructions[0].args == ["echo # not a comment"]


def test_continuation_at_end_of_file():
    assert only("RUN something \\").args == ["something"]
    assert only("RUN something \\\n").args == ["something"]


def test_escaped_escape_at_end_of_line_is_not_a_continuation():
    df = parse("FROM busybox\nRUN echo a\\\\\nRUN echo b\n")
    assert [i.args for i in df.stages[0].instructions] == [["echo a\\\\"], ["echo b"]]


def test_continuation_allows_trailing_blanks_after_the_escape():
    assert only("RUN a \\  \t\nb").args == ["a b"]


def test_crlf_line_endings():
    df = parse("FROM busybox\r\nRUN echo a \\\r\n b\r\nCMD x\r\n")
    assert [i.args for i in df.stages[0].instructions] == [["echo a  b"], ["x"]]


def test_byte_order_mark_is_ignored():
    assert parse("\ufeffFROM busybox\n").stages[0].base == "busybox"
    assert parse("\ufeffFROM busybox\n".encode()).stages[0].base == "busybox"


def test_escape_directive_backtick():
    df = parse("# escape=`\nFROM windows\nRUN dir c:\\ `\n  /w\nCOPY a\\b c:\\\n")
    assert df.escape == "`"
    run, copy = df.stages[0].instructions
    assert run.args == ["dir c:\\   /w"]
    assert copy.words == ["a\\b", "c:\\"]


def test_directives_are_case_insensitive_with_spaces():
    df = parse("#  ESCAPE = `\n# Syntax = docker/dockerfile:1\nFROM x\n")
    assert df.escape == "`" and df.syntax == "docker/dockerfile:1"


def test_directive_after_a_comment_is_just_a_comment():
    df = parse("# a comment\n# escape=`\nFROM image\nENV GOPATH \\\n\\go\n")
    assert df.escape == "\\"
    assert df.stages[0].instructions[0].pairs == [("GOPATH", "\\go")]


def test_directive_after_a_blank_line_or_instruction_is_ignored():
    assert parse("\n# escape=`\nFROM x\n").escape == "\\"
    assert parse("FROM x\n# escape=`\nRUN a\n").escape == "\\"


def test_unknown_directive_ends_directives():
    df = parse("# foo=bar\n# escape=`\nFROM x\n")
    assert df.escape == "\\"


def test_duplicate_directive_is_an_error():
    e = error("# escape=`\n# escape=\\\nFROM x\n")
    assert str(e) == "Dockerfile:2: only one escape parser directive can be used"


def test_invalid_escape_token():
    e = error("# escape=x\nFROM x\n")
    assert e.line == 1 and "invalid escape token 'x'" in str(e)


# -- errors -------------------------------------------------------------------------

def test_unknown_instruction_names_the_line():
    e = error("FROM busybox\nRUN true\n\nXYZZY bar\n")
    assert str(e) == "Dockerfile:4: unknown instruction: XYZZY"
    assert e.line == 4 and e.reason == "unknown instruction: XYZZY"
    assert "unknown instruction: FOO (did you mean FROM?)" in str(error("FROM x\nFOO bar\n"))


@pytest.mark.parametrize("text,message", [
    ("RUNN echo", "unknown instruction: RUNN (did you mean RUN?)"),
    ("copyy a b", "unknown instruction: copyy (did you mean copy?)"),
    ("Workdr /x", "unknown instruction: Workdr (did you mean workdir?)"),
    ("XYZZY", "unknown instruction: XYZZY"),
    ("COPY --form=x a b", "unknown flag: --form (did you mean from?)"),
])
def test_near_misses_get_a_suggestion(text, message):
    assert str(error("FROM x\n" + text + "\n")) == "Dockerfile:2: " + message


def test_error_carries_the_filename_and_status():
    with pytest.raises(DockerfileError) as e:
        parse("FROM x\nXYZZY\n", filename="other.Dockerfile")
    assert str(e.value) == "other.Dockerfile:2: unknown instruction: XYZZY"
    assert isinstance(e.value, InvalidArgument)
    assert e.value.status == 1  # docker build exits 1


def test_error_line_is_where_the_instruction_starts():
    e = error("FROM x\nENV \\\n  a\n")
    assert (e.line, e.end_line) == (2, 3)
    assert "ENV must have two arguments" in str(e)


def test_instruction_before_from():
    e = error("# comment\nRUN true\nFROM busybox\n")
    assert str(e) == "Dockerfile:2: no build stage in current context"


def test_no_from_at_all():
    assert "no stages to build" in str(error("ARG A=1\n"))


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "  \n# c\n"])
def test_file_with_no_instructions(text):
    assert "file with no instructions" in str(error(text))


def test_line_errors_come_before_instruction_errors():
    # a parse error on line 3 is reported before the unknown instruction on line 2
    e = error("FROM x\nFOO\nENV onlykey\n")
    assert e.line == 3


def test_dockerfile_error_at():
    e = DockerfileError("boom")
    assert str(e) == "boom" and e.line is None
    placed = e.at(7)
    assert str(placed) == "Dockerfile:7: boom" and placed.line == 7
    assert placed.at(9) is placed
    assert str(DockerfileError("x", filename="f")) == "f: x"


# -- FROM and stages ---------------------------------------------------------------------

def test_multi_stage_names_platform_and_scratch():
    df = parse("FROM --platform=linux/arm64 golang:1.22 AS Build\nRUN go build\n"
               "FROM scratch\nCOPY --from=build /out /out\n")
    build, final = df.stages
    assert (build.name, build.base, build.platform, build.index) == ("build", "golang:1.22", "linux/arm64", 0)
    assert (final.name, final.base, final.index, final.line) == (None, "scratch", 1, 3)
    assert final.from_instruction.cmd == "FROM"
    assert final.instructions[0].flags["from"] == "build"


def test_from_keeps_variables_for_later_expansion():
    df = parse("ARG BASE=busybox\nARG TAG\nFROM ${BASE}:$TAG\n")
    assert df.stages[0].base == "${BASE}:$TAG"
    assert [i.pairs for i in df.meta_args] == [[("BASE", "busybox")], [("TAG", None)]]
    assert df.meta_args[0].line == 1


@pytest.mark.parametrize("text,message", [
    ("FROM", "FROM requires either one or three arguments"),
    ("FROM a b", "FROM requires either one or three arguments"),
    ("FROM a AS b c", "FROM requires either one or three arguments"),
    ("FROM a AS 1abc", "invalid name for build stage"),
    ("FROM a AS b$c", "invalid name for build stage"),
    ("FROM --foo=x a", "unknown flag: --foo"),
    ("FROM --platform a", "missing a value on flag: --platform"),
])
def test_from_errors(text, message):
    e = error(text + "\n")
    assert message in str(e) and e.line == 1


def test_stage_index_by_name_number_and_case():
    df = parse("FROM a AS one\nFROM b AS Two\nFROM c\n")
    assert D.stage_index(df, "one") == 0
    assert D.stage_index(df, "TWO") == 1
    assert D.stage_index(df, "2") == 2
    assert D.find_stage(df, "busybox:latest") is None  # COPY --from an image
    with pytest.raises(DockerfileError, match='target stage "nope" could not be found'):
        D.stage_index(df, "nope")
    with pytest.raises(DockerfileError, match="invalid stage index 3"):
        D.stage_index(df, "3")
    with pytest.raises(DockerfileError, match="invalid stage index -1"):
        D.find_stage(df, "-1")


def test_duplicate_stage_names_last_wins():
    df = parse("FROM a AS x\nFROM b AS x\nFROM c\n")
    assert D.stage_index(df, "x") == 1


# -- shell and exec forms ----------------------------------------------------------------

@pytest.mark.parametrize("cmd", ["RUN", "CMD", "ENTRYPOINT"])
def test_shell_and_exec_forms(cmd):
    shell = only(f"{cmd} echo \"hello world\" $HOME")
    assert (shell.args, shell.json) == (['echo "hello world" $HOME'], False)
    exe = only(f'{cmd} ["echo", "hello world", "$HOME"]')
    assert (exe.args, exe.json) == (["echo", "hello world", "$HOME"], True)


def test_exec_form_with_leading_space_and_unicode_escapes():
    ins = only('CMD    [ "a\\u00e9", "\\"q\\"", "back\\\\slash" ]  ')
    assert ins.json and ins.args == ["a\u00e9", '"q"', "back\\slash"]


@pytest.mark.parametrize("text", [
    "CMD ['single', 'quotes']",
    'CMD ["unterminated"',
    'CMD ["a", "b"] trailing',
    'CMD ["a" "b"]',
    "CMD [NaN]",
    'CMD {"a": 1}',
])
def test_invalid_json_falls_back_to_shell_form(text):
    ins = only(text)
    assert ins.json is False and ins.args == [text[4:]]


def test_json_array_of_non_strings_is_an_error():
    e = error("FROM x\nCMD [1, 2]\n")
    assert e.line == 2 and "arrays must be comprised of strings only" in str(e)


def test_empty_json_array_and_empty_shell_form():
    ins = only("CMD []")
    assert (ins.args, ins.json) == ([], True)
    assert only("RUN").args == []
    assert only("ENTRYPOINT").args == []


def test_shell_requires_json():
    assert only('SHELL ["/bin/bash", "-c"]').args == ["/bin/bash", "-c"]
    assert "SHELL requires the arguments to be in JSON form" in str(error("FROM x\nSHELL /bin/bash -c\n"))
    assert "SHELL requires at least one argument" in str(error("FROM x\nSHELL []\n"))


# -- flags --------------------------------------------------------------------------------

def test_copy_and_add_flags():
    ins = only("COPY --from=build --chown=1000:1000 --chmod=0755 --link src/ /dst/")
    assert ins.flags == {"from": "build", "chown": "1000:1000", "chmod": "0755", "link": "true"}
    assert ins.flags["--from"] == "build" and "--chown" in ins.flags and ins.flags.get("--x") is None
    assert ins.flags.is_true("link") and not ins.flags.is_true("parents")
    assert ins.words == ["src/", "/dst/"] and ins.args == ["src/ /dst/"]
    add = only("ADD --chown=app --link=false --exclude=*.md --exclude=x a.tar /opt/")
    assert add.flags == {"chown": "app", "link": "false", "exclude": ["*.md", "x"]}


def test_run_mount_is_repeatable_and_kept_raw():
    ins = only("RUN --mount=type=cache,target=/root/.cache --mount=type=tmpfs,target=/t "
               "--network=none echo hi")
    assert ins.flags["mount"] == ["type=cache,target=/root/.cache", "type=tmpfs,target=/t"]
    assert ins.flags["network"] == "none" and ins.args == ["echo hi"]


def test_flag_values_may_be_quoted():
    ins = only('COPY --chown="app user" a b')
    assert ins.flags["chown"] == "app user"


def test_double_dash_ends_flags():
    ins = only("RUN -- --not-a-flag")
    assert ins.flags == {} and ins.args == ["--not-a-flag"]


def test_flags_stop_at_the_first_argument():
    ins = only("COPY a --from=x b")
    assert ins.flags == {} and ins.words == ["a", "--from=x", "b"]


@pytest.mark.parametrize("text,message", [
    ("COPY --bogus=1 a b", "unknown flag: --bogus"),
    ("COPY --from=a --from=b x y", "duplicate flag specified: --from"),
    ("COPY --from a b", "missing a value on flag: --from"),
    ("COPY --link= a b", "missing a value on flag: --link"),
    ("COPY --link=maybe a b", "expecting boolean value for flag --link, not: maybe"),
    ("RUN --mount echo", "missing a value on flag: --mount"),
    ("ENV --x=1 A=b", "unknown flag: --x"),
    ("CMD --x echo", "unknown flag: --x"),
    ("WORKDIR --x /a", "unknown flag: --x"),
])
def test_flag_errors(text, message):
    e = error("FROM x\n" + text + "\n")
    assert e.line == 2 and message in str(e)


# -- COPY / ADD / VOLUME / EXPOSE ---------------------------------------------------------

def test_copy_shell_and_json_forms():
    ins = only("COPY  a   b*.txt  /dst/")
    assert (ins.args, ins.words, ins.json) == (["a   b*.txt  /dst/"], ["a", "b*.txt", "/dst/"], False)
    ins = only('COPY ["a b", "/my dir/"]')
    assert (ins.args, ins.words, ins.json) == (["a b", "/my dir/"], ["a b", "/my dir/"], True)


@pytest.mark.parametrize("cmd", ["COPY", "ADD"])
def test_copy_needs_a_destination(cmd):
    e = error(f"FROM x\n{cmd} onlyone\n")
    assert f"{cmd} requires at least two arguments" in str(e) and e.line == 2
    assert "requires at least two" in str(error(f'FROM x\n{cmd} ["a"]\n'))


def test_volume_expose_forms():
    assert only("VOLUME /a /b").words == ["/a", "/b"]
    vol = only('VOLUME ["/data", "/logs"]')
    assert vol.json and vol.args == ["/data", "/logs"]
    exp = only("EXPOSE 80/tcp  443 ${PORT}")
    assert exp.words == ["80/tcp", "443", "${PORT}"] and exp.args == ["80/tcp  443 ${PORT}"]
    assert "VOLUME specified can not be an empty string" in str(error('FROM x\nVOLUME [" "]\n'))
    assert "VOLUME requires at least one argument" in str(error("FROM x\nVOLUME\n"))
    assert "EXPOSE requires at least one argument" in str(error("FROM x\nEXPOSE\n"))


# -- single-value instructions -------------------------------------------------------------

@pytest.mark.parametrize("cmd", ["WORKDIR", "USER", "STOPSIGNAL", "MAINTAINER"])
def test_single_value_instructions_keep_the_whole_text(cmd):
    ins = only(f"{cmd} some value $X")
    assert ins.args == ["some value $X"] and ins.words == ["some value $X"]
    assert f"{cmd} requires exactly one argument" in str(error(f"FROM x\n{cmd}\n"))


def test_maintainer_is_accepted_with_a_warning():
    df = parse("FROM x\nMAINTAINER Jane <jane@example.com>\n")
    assert df.stages[0].instructions[0].args == ["Jane <jane@example.com>"]
    assert any("MAINTAINER" in w for w in df.warnings)


# -- ENV / LABEL / ARG ---------------------------------------------------------------------

def test_env_forms_keep_raw_values():
    assert only("ENV name value with spaces").pairs == [("name", "value with spaces")]
    assert only("ENV A=1 B=\"two words\" C=three\\ words D=").pairs == [
        ("A", "1"), ("B", '"two words"'), ("C", "three\\ words"), ("D", "")]
    assert only("ENV A='x \"y\"' B=$A").pairs == [("A", "'x \"y\"'"), ("B", "$A")]
    ins = only("ENV A=1 \\\n    B=2")
    assert ins.pairs == [("A", "1"), ("B", "2")] and ins.end_line == 3


def test_env_values_expand_as_buildkit_does():
    env = {"A": "x"}
    values = [expand(v, env) for _, v in
              only("ENV a=\"a b\" b=c\\ d c='$A' d=\"$A\" e=${A:-z}").pairs]
    assert values == ["a b", "c d", "$A", "x", "x"]


@pytest.mark.parametrize("text,message", [
    ("ENV", "ENV requires at least one argument"),
    ("ENV onlykey", "ENV must have two arguments"),
    ("ENV a=1 b", "Syntax error - can't find = in \"b\". Must be of the form: name=value"),
    ("ENV =x", "ENV names can not be blank"),
    ("LABEL", "LABEL requires at least one argument"),
    ("LABEL a", "LABEL must have two arguments"),
    ("ARG", "ARG requires at least one argument"),
    ("ARG =x", "ARG names can not be blank"),
])
def test_key_value_errors(text, message):
    e = error("FROM x\n" + text + "\n")
    assert message in str(e) and e.line == 2


def test_label_pairs():
    ins = only('LABEL "com.example.vendor"="ACME Inc" version=1.0 description="multi \\\nline"')
    assert ins.pairs == [('"com.example.vendor"', '"ACME Inc"'), ("version", "1.0"),
                         ("description", '"multi line"')]
    assert only("LABEL maintainer foo@bar.com").pairs == [("maintainer", "foo@bar.com")]


def test_arg_pairs_and_words():
    ins = only('ARG A B=2 C="x y" D=')
    assert ins.pairs == [("A", None), ("B", "2"), ("C", '"x y"'), ("D", "")]
    assert ins.words == ["A", "B=2", 'C="x y"', "D="]


def test_arg_inside_stage_is_an_instruction_not_a_meta_arg():
    df = parse("ARG V=1\nFROM x\nARG V\nRUN echo $V\n")
    assert len(df.meta_args) == 1 and df.stages[0].instructions[0].cmd == "ARG"


# -- HEALTHCHECK ------------------------------------------------------------------------------

def test_healthcheck_none():
    ins = only("HEALTHCHECK NONE")
    assert ins.args == ["NONE"] and ins.healthcheck == {"Test": ["NONE"]}


def test_healthcheck_shell_form_with_options():
    ins = only("HEALTHCHECK --interval=30s --timeout=1m30s --start-period=1.5s "
               "--start-interval=500ms --retries=3 CMD curl -f http://localhost/ || exit 1")
    assert ins.args == ["CMD", "curl -f http://localhost/ || exit 1"] and not ins.json
    assert ins.healthcheck == {
        "Test": ["CMD-SHELL", "curl -f http://localhost/ || exit 1"],
        "Interval": 30_000_000_000, "Timeout": 90_000_000_000,
        "StartPeriod": 1_500_000_000, "StartInterval": 500_000_000, "Retries": 3}


def test_healthcheck_exec_form_and_zero_values_omitted():
    ins = only('healthcheck --interval=0s --retries=0 cmd ["/bin/check", "--fast"]')
    assert ins.json and ins.args == ["cmd", "/bin/check", "--fast"]
    assert ins.healthcheck == {"Test": ["CMD", "/bin/check", "--fast"]}


@pytest.mark.parametrize("text,message", [
    ("HEALTHCHECK", "HEALTHCHECK requires at least one argument"),
    ("HEALTHCHECK NONE extra", "HEALTHCHECK NONE takes no arguments"),
    ("HEALTHCHECK CMD", "Missing command after HEALTHCHECK CMD"),
    ("HEALTHCHECK CHECK x", 'Unknown type "CHECK" in HEALTHCHECK (try CMD)'),
    ("HEALTHCHECK --interval=5 CMD x", 'time: missing unit in duration "5"'),
    ("HEALTHCHECK --interval=5y CMD x", 'time: unknown unit "y" in duration "5y"'),
    ("HEALTHCHECK --interval=500us CMD x", 'Interval "interval" cannot be less than 1ms'),
    ("HEALTHCHECK --timeout=-1s CMD x", 'Interval "timeout" cannot be less than 1ms'),
    ("HEALTHCHECK --retries=-1 CMD x", "--retries cannot be negative (-1)"),
    ("HEALTHCHECK --retries=x CMD x", 'parsing "x": invalid syntax'),
    ("HEALTHCHECK --foo=1 CMD x", "unknown flag: --foo"),
])
def test_healthcheck_errors(text, message):
    e = error("FROM x\n" + text + "\n")
    assert message in str(e) and e.line == 2


@pytest.mark.parametrize("text,ns", [
    ("0", 0), ("1h", 3_600_000_000_000), ("1h2m3s", 3_723_000_000_000), ("1.5h", 5_400_000_000_000),
    ("300ms", 300_000_000), ("2us", 2_000), ("2\u00b5s", 2_000), ("7ns", 7), ("-1s", -1_000_000_000),
    (".5s", 500_000_000), ("1.s", 1_000_000_000),
])
def test_go_duration(text, ns):
    assert D.go_duration(text) == ns


@pytest.mark.parametrize("text", ["", "s", ".", "1", "1x", "1..5s", "+"])
def test_go_duration_errors(text):
    with pytest.raises(ValueError):
        D.go_duration(text)


# -- ONBUILD --------------------------------------------------------------------------------

def test_onbuild_keeps_the_trigger_text():
    ins = only("ONBUILD RUN echo \\\n  built")
    assert ins.cmd == "ONBUILD" and ins.args == ["RUN echo   built"]
    trigger = parse_line(ins.args[0])
    assert (trigger.cmd, trigger.args) == ("RUN", ["echo   built"])
    ins = only('onbuild COPY --from=base ["a", "b"]')
    trigger = parse_line(ins.args[0])
    assert trigger.flags == {"from": "base"} and trigger.args == ["a", "b"] and trigger.json


@pytest.mark.parametrize("text,message", [
    ("ONBUILD", "ONBUILD requires at least one argument"),
    ("ONBUILD ONBUILD RUN x", "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
    ("ONBUILD FROM busybox", "FROM isn't allowed as an ONBUILD trigger"),
    ("ONBUILD maintainer me", "MAINTAINER isn't allowed as an ONBUILD trigger"),
    ("ONBUILD CMD [1]", "arrays must be comprised of strings only"),
])
def test_onbuild_errors(text, message):
    e = error("FROM x\n" + text + "\n")
    assert message in str(e) and e.line == 2


def test_onbuild_trigger_with_unknown_instruction_fails_when_it_fires():
    ins = only("ONBUILD FOO bar")
    with pytest.raises(DockerfileError, match="unknown instruction: FOO"):
        parse_line(ins.args[0])


# -- parse_line -------------------------------------------------------------------------------

def test_parse_line():
    ins = parse_line('CMD ["x"]')
    assert (ins.cmd, ins.args, ins.json, ins.line) == ("CMD", ["x"], True, 1)
    assert parse_line("RUN a `\n b", escape="`").args == ["a  b"]
    with pytest.raises(DockerfileError, match="expected one instruction"):
        parse_line("RUN a\nRUN b")
    with pytest.raises(DockerfileError, match="unknown instruction: NOPE"):
        parse_line("NOPE x")
    with pytest.raises(DockerfileError, match="file with no instructions"):
        parse_line("   ")


# -- heredocs -----------------------------------------------------------------------------------

def test_run_heredoc():
    df = parse("FROM x\nRUN <<EOF\necho hello\necho $HOME\nEOF\nRUN after\n")
    run, after = df.stages[0].instructions
    assert run.args == ["<<EOF"] and (run.line, run.end_line, after.line) == (2, 5, 6)
    (doc,) = run.heredocs
    name, content = doc
    assert (name, content, doc.expand, doc.chomp, doc.fd) == ("EOF", "echo hello\necho $HOME\n", True, False, 0)
    assert D.run_script(run) == ("echo hello\necho $HOME\n", None)


def test_run_heredoc_with_shebang_runs_as_a_file():
    run = only("RUN <<'SCRIPT'\n#!/usr/bin/env python3\nprint('hi')\nSCRIPT")
    command, script = D.run_script(run)
    assert command == "/dev/pipes/SCRIPT"
    assert script.content == "#!/usr/bin/env python3\nprint('hi')\n" and script.expand is False


def test_run_heredoc_as_input_of_a_command():
    run = only("RUN python3 <<EOF > /out\nprint(1)\nEOF")
    assert D.run_script(run) == ("python3 <<EOF > /out\nprint(1)\nEOF", None)
    assert D.run_script(only("RUN echo plain")) == ("echo plain", None)


def test_heredoc_chomp_and_quoted_delimiters():
    run = only('RUN <<-"EOF"\n\tindented $X\n\t\tmore\n\tEOF')
    (doc,) = run.heredocs
    assert doc.content == "indented $X\nmore\n" and doc.raw == "\tindented $X\n\t\tmore\n"
    assert doc.chomp and not doc.expand
    assert only("RUN <<eo'f'\nx\neof").heredocs[0].name == "eof"
    assert only("RUN 3<<EOF\nx\nEOF").heredocs[0].fd == 3


def test_copy_heredocs():
    ins = only("COPY <<A <<B /dest/\nfirst $X\nA\nsecond\nB")
    assert ins.words == ["<<A", "<<B", "/dest/"]
    assert [tuple(h) for h in ins.heredocs] == [("A", "first $X\n"), ("B", "second\n")]
    assert ins.heredoc("<<A").content == "first $X\n" and ins.heredoc("/dest/") is None
    assert expand_heredoc(ins.heredoc("<<A").content, {"X": "1"}) == "first 1\n"
    assert expand_heredoc('"quoted" \'$X\'\n', {"X": "1"}) == '"quoted" \'1\'\n'


def test_heredoc_not_in_json_form_or_other_instructions():
    assert only('RUN ["cat", "<<EOF"]').heredocs == []
    assert only('RUN echo "<<EOF"').heredocs == []
    # USER takes no heredoc: the `X` line is read as an (unknown) instruction
    assert str(error("FROM x\nUSER <<X\nX\n")) == "Dockerfile:3: unknown instruction: X"


def test_heredoc_as_copy_destination_is_an_error():
    assert "COPY cannot accept a heredoc as a destination" in str(error("FROM x\nCOPY a <<EOF\nEOF\n"))


def test_unterminated_heredoc():
    e = error("FROM x\nRUN <<EOF\necho\n")
    assert "unterminated heredoc" in str(e) and e.line == 2


def test_onbuild_heredoc_is_carried_in_the_trigger():
    ins = only("ONBUILD RUN <<EOF\necho hi\nEOF")
    assert ins.args == ["RUN <<EOF\necho hi\nEOF"]
    trigger = parse_line(ins.args[0])
    assert trigger.heredocs[0].content == "echo hi\n"


# -- words.expand ---------------------------------------------------------------------------------

ENV = {"PWD": "/home", "SHELL": "bash", "NULL": "", "SPACE": "a  b", "KOREAN": "한국어"}


@pytest.mark.parametrize("word,result", [
    ("hello", "hello"),
    ("$PWD", "/home"), ("${PWD}", "/home"), ("he$PWD", "he/home"), ("he${PWD}x", "he/homex"),
    ("$KOREAN!", "한국어!"),
    ("$UNSET", ""), ("${UNSET}x", "x"), ("$", "$"), ("$.", "$."), ("a$ b", "a$ b"),
    ("${XXX:-000}", "000"), ("${PWD:-000}", "/home"), ("${NULL:-def}", "def"), ("${NULL-def}", ""),
    ("${XXX-def}", "def"),
    ("${XXX:+alt}", ""), ("${PWD:+alt}", "alt"), ("${NULL:+alt}", ""), ("${NULL+alt}", "alt"),
    ("${PWD:?}", "/home"), ("${NULL?}", ""),
    ("${XXX:-$PWD}", "/home"), ("${A:-${B:-x}}", "x"), ("${A:-${PWD:-x}}", "/home"),
    ("${XXX:-${YYY:-${ZZZ:-deep}}}", "deep"), ("${PWD:+${SHELL}}", "bash"),
    ("${XXX:-a b}", "a b"), ("${XXX:-\"q\"}", "q"), ("${XXX:-'$PWD'}", "$PWD"),
    ("${XXX:-\\$PWD:}", "$PWD:"), ("${aaa:-bbb}}", "bbb}"), ("${aaa}}", "}"),
    ("'$PWD'", "$PWD"), ('"$PWD"', "/home"), ("\"he'$PWD'\"", "he'/home'"),
    ("'he\\llo'", "he\\llo"), ('"a\\tb"', "a\\tb"), ('"a\\\\b"', "a\\b"), ('"a\\"b"', 'a"b'),
    ('"\\$PWD"', "$PWD"), ("\\$PWD", "$PWD"), ("\\\\$PWD", "\\/home"), ("a\\ b", "a b"),
    ("abc\\tdef", "abctdef"), ("hello\\", "hello"), ("he'll'o", "hello"), ("'\"x\"'", '"x"'),
    ("$1x", "x"), ("${9:-n}", "n"), ("$@x", "x"), ("$$", ""),
    ("${FOO#*}", ""), ("$SPACE", "a  b"),
])
def test_expand(word, result):
    assert expand(word, ENV) == result


@pytest.mark.parametrize("word,env,result", [
    ("${V#*/}", {"V": "a/b/c"}, "b/c"), ("${V##*/}", {"V": "a/b/c"}, "c"),
    ("${V%/*}", {"V": "a/b/c"}, "a/b"), ("${V%%/*}", {"V": "a/b/c"}, "a"),
    ("${V/b/X}", {"V": "abab"}, "aXab"), ("${V//b/X}", {"V": "abab"}, "aXaX"),
    ("${V/?/_}", {"V": "xyz"}, "_yz"), ("${V%%\\**}", {"V": "xx**"}, "xx"),
])
def test_expand_pattern_modifiers(word, env, result):
    assert expand(word, env) == result


@pytest.mark.parametrize("word,message", [
    ("'unterminated", "matching single-quote"),
    ('"unterminated', "matching double-quote"),
    ('"a\\"', "matching double-quote"),
    ("${}", "bad substitution"), ("${:}", "bad substitution"), ("${{x}", "bad substitution"),
    ("${PWD", "missing '}'"), ("${XXX:-abc", "missing '}'"), ("${", "missing '}'"),
    ("${PWD:=x}", "unsupported modifier (:=) in substitution"),
    ("${PWD=x}", "unsupported modifier (=) in substitution"),
    ("${X:#a}", "unsupported modifier (:#)"),
    ("${XXX:?}", "XXX: is not allowed to be unset"),
    ("${NULL:?}", "NULL: is not allowed to be empty"),
    ("${XXX?custom message $PWD}", "XXX: custom message /home"),
    ("${PWD//x}", "missing '/' in ${}"),
    ("${.}", "unsupported modifier (.)"),
])
def test_expand_errors(word, message):
    with pytest.raises(DockerfileError) as e:
        expand(word, ENV)
    assert message in str(e.value) and e.value.line is None
    assert str(e.value).startswith("failed to process ")
    assert str(e.value.at(4)).startswith("Dockerfile:4: failed to process ")


def test_expand_with_backtick_escape():
    assert expand("c:\\dir`$x `\"q`\"", {"x": "1"}, escape="`") == 'c:\\dir$x "q"'
    assert expand("a\\b", {}, escape="`") == "a\\b"


def test_expand_leaves_plain_words_alone():
    assert expand("/usr/local/bin", {}) == "/usr/local/bin"


# -- words.expand_words -----------------------------------------------------------------------------

@pytest.mark.parametrize("text,words", [
    ("hello", ["hello"]),
    ("hello there   ", ["hello", "there"]),
    ("  80/tcp\t443  ", ["80/tcp", "443"]),
    ('"a b" c', ["a b", "c"]),
    ("a\\ b c", ["a b", "c"]),
    ("hello${SPACE}bye", ["helloa", "bbye"]),
    ('hello"${SPACE}"bye', ["helloa  bbye"]),
    ("${UNSET}", []),
    ('""', []),
    ("x ${UNSET} y", ["x", "y"]),
    ("hello\\\" there", ['hello"', "there"]),
    ("'$PWD' $PWD", ["$PWD", "/home"]),
])
def test_expand_words(text, words):
    assert expand_words(text, ENV) == words


def test_expand_words_errors():
    with pytest.raises(DockerfileError, match="double-quote"):
        expand_words('hello" there', ENV)
