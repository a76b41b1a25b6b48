"""`build`: every instruction, multi-stage builds, the cache, .dockerignore, hostile
contexts and archives, errors; images built here run here and in podman."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import tarfile

import pytest

pytestmark = pytest.mark.root


def write(d, files: dict[str, str | bytes]) -> str:
    for name, content in files.items():
        p = os.path.join(str(d), name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(content.encode() if isinstance(content, str) else content)
    return str(d)


def steps(stderr: str) -> dict[str, str]:
    """Step name -> "CACHED" | "DONE" | "ERROR", from BuildKit-style plain output."""
    names: dict[str, str] = {}
    out: dict[str, str] = {}
    for line in stderr.splitlines():
        m = re.match(r"#(\d+) (\[.*?\] .*)$", line)
        if m:
            names[m.group(1)] = m.group(2)
            continue
        m = re.match(r"#(\d+) (CACHED|DONE|ERROR)", line)
        if m and m.group(1) in names:
            out[re.sub(r"^\[[^\]]*\] ", "", names[m.group(1)])] = m.group(2)
    return out


def inspect(dy, image: str) -> dict:
    return json.loads(dy.ok("inspect", image))[0]


def test_instructions_make_the_config_and_the_image_runs(dy, tmp_path):
    ctx = write(tmp_path, {"hello.txt": "hello\n", "Dockerfile": """
FROM busybox
ARG GREETING=hi
ENV APP_HOME=/srv/app \\
    MODE="prod mode"
LABEL org.example.name="demo app" version=1
WORKDIR $APP_HOME
COPY hello.txt ./
RUN echo "$GREETING from $MODE" > greeting && echo usr:x:999:999::/:/bin/sh >> /etc/passwd
RUN ["sh", "-c", "echo exec form > /exec.txt"]
EXPOSE 8080 53/udp
VOLUME ["/data"]
USER usr
STOPSIGNAL SIGINT
HEALTHCHECK --interval=30s --retries=2 CMD true
CMD ["cat", "greeting", "hello.txt"]
"""})
    image = "bt-instructions:1"
    try:
        p = dy("build", "-t", image, ctx)
        assert p.returncode == 0, p.stderr
        doc = inspect(dy, image)
        c = doc["Config"]
        assert c["Cmd"] == ["cat", "greeting", "hello.txt"]
        assert "APP_HOME=/srv/app" in c["Env"] and "MODE=prod mode" in c["Env"]
        assert not any(e.startswith("GREETING=") for e in c["Env"])  # ARGs are not kept
        assert c["WorkingDir"] == "/srv/app"
        assert c["User"] == "usr"
        assert c["Labels"] == {"org.example.name": "demo app", "version": "1"}
        assert c["ExposedPorts"] == {"8080/tcp": {}, "53/udp": {}}
        assert c["Volumes"] == {"/data": {}}
        assert c["StopSignal"] == "SIGINT"
        assert c["Healthcheck"]["Test"] == ["CMD-SHELL", "true"]
        assert c["Healthcheck"]["Interval"] == 30 * 10**9 and c["Healthcheck"]["Retries"] == 2
        assert dy.ok("run", "--rm", image) == "hi from prod mode\nhello\n"
        assert dy.ok("run", "--rm", image, "sh", "-c", "id -un; cat /exec.txt; pwd") == "usr\nexec form\n/srv/app\n"
        # metadata-only instructions add history, not layers
        hist = dy.ok("history", "--no-trunc", image)
        assert "ENV APP_HOME=/srv/app MODE=prod mode" in hist
        base = len(inspect(dy, "busybox")["RootFS"]["Layers"])
        assert len(doc["RootFS"]["Layers"]) == base + 4  # WORKDIR, COPY, RUN, RUN
    finally:
        dy("rmi", "-f", image)


def test_run_output_is_streamed_and_shell_can_change(dy, tmp_path):
    ctx = write(tmp_path, {"Dockerfile": """
FROM busybox
SHELL ["/bin/sh", "-ec"]
RUN echo first line; echo second line >&2
ENTRYPOINT ["echo", "ep"]
"""})
    image = "bt-stream"
    try:
        p = dy("build", "--no-cache", "--progress=plain", "-t", image, ctx)
        assert p.returncode == 0, p.stderr
        assert re.search(r"#\d+ \d+\.\d{3} first line", p.stderr)
        assert re.search(r"#\d+ \d+\.\d{3} second line", p.stderr)
        assert re.search(r"#\d+ writing image sha256:[0-9a-f]{64} done", p.stderr)
        assert "naming to docker.io/library/bt-stream:latest done" in p.stderr
        c = inspect(dy, image)["Config"]
        assert c["Shell"] == ["/bin/sh", "-ec"]
        assert c["Entrypoint"] == ["echo", "ep"]
        assert c.get("Cmd") is None  # an inherited CMD does not survive a new ENTRYPOINT
        assert dy.ok("run", "--rm", image, "x") == "ep x\n"
    finally:
        dy("rmi", "-f", image)


def test_multi_stage_copy_from_and_target(dy, tmp_path):
    ctx = write(tmp_path, {"Dockerfile": """
FROM busybox AS builder
RUN mkdir -p /out/sub && echo artefact > /out/sub/file && chown 7:8 /out/sub/file

FROM busybox AS broken
RUN exit 5

FROM busybox
COPY --from=builder /out /opt/
COPY --from=0 /out/sub/file /single
COPY --from=busybox /bin/busybox /copied-busybox
"""})
    image, target = "bt-multi", "bt-multi-target"
    try:
        p = dy("build", "-t", image, ctx)
        assert p.returncode == 0, p.stderr
        assert "exit 5" not in p.stderr  # a stage nothing needs is not built
        out = dy.ok("run", "--rm", image, "sh", "-c",
                    "cat /opt/sub/file /single; stat -c %u:%g /opt/sub/file; test -x /copied-busybox && echo bb")
        assert out == "artefact\nartefact\n7:8\nbb\n"
        p = dy("build", "--target", "builder", "-t", target, ctx)
        assert p.returncode == 0, p.stderr
        assert dy.ok("run", "--rm", target, "cat", "/out/sub/file") == "artefact\n"
        p = dy("build", "--target", "nope", ctx)
        assert p.returncode == 1 and 'target stage "nope" could not be found' in p.stderr
    finally:
        dy("rmi", "-f", image, target)


def test_cache_hits_and_misses(fresh_dy, tmp_path):
    dy = fresh_dy
    ctx = write(tmp_path, {"a.txt": "a1\n", "b.txt": "b1\n", "Dockerfile": """
FROM busybox
RUN echo one > /one
COPY a.txt /a.txt
RUN cat /a.txt > /a.copy
COPY b.txt /b.txt
RUN cat /b.txt > /b.copy
ENV X=1
CMD ["cat", "/a.copy", "/b.copy"]
"""})
    first = dy("build", "-t", "cachetest", ctx)
    assert first.returncode == 0, first.stderr
    s = steps(first.stderr)
    assert s["RUN echo one > /one"] == "DONE" and s["COPY a.txt /a.txt"] == "DONE"
    iid = dy.ok("inspect", "-f", "{{.Id}}", "cachetest").strip()

    again = dy("build", "-t", "cachetest", ctx)
    s = steps(again.stderr)
    assert [s[k] for k in ("RUN echo one > /one", "COPY a.txt /a.txt", "RUN cat /a.txt > /a.copy",
                           "COPY b.txt /b.txt", "RUN cat /b.txt > /b.copy")] == ["CACHED"] * 5
    # an unchanged build is the very same image: nothing dangling behind
    assert dy.ok("inspect", "-f", "{{.Id}}", "cachetest").strip() == iid
    assert dy.ok("images", "-q", "--filter", "dangling=true") == ""

    # touching a file changes nothing; changing b.txt invalidates from its COPY on
    os.utime(os.path.join(ctx, "a.txt"), (1, 1))
    write(tmp_path, {"b.txt": "b2\n"})
    third = dy("build", "-t", "cachetest", ctx)
    s = steps(third.stderr)
    assert [s[k] for k in ("RUN echo one > /one", "COPY a.txt /a.txt", "RUN cat /a.txt > /a.copy")] == ["CACHED"] * 3
    assert s["COPY b.txt /b.txt"] == "DONE" and s["RUN cat /b.txt > /b.copy"] == "DONE"
    assert dy.ok("run", "--rm", "cachetest") == "a1\nb2\n"

    # a build arg a RUN sees is part of its key
    write(tmp_path, {"Dockerfile2": "FROM busybox\nARG V=1\nRUN echo $V > /v\n"})
    dy.ok("build", "-f", os.path.join(ctx, "Dockerfile2"), "-t", "argcache", ctx)
    p = dy("build", "-f", os.path.join(ctx, "Dockerfile2"), "--build-arg", "V=2", "-t", "argcache", ctx)
    assert steps(p.stderr)["RUN echo $V > /v"] == "DONE"
    assert dy.ok("run", "--rm", "argcache", "cat", "/v") == "2\n"

    nocache = steps(dy("build", "--no-cache", "-t", "cachetest", ctx).stderr)
    assert all(v == "DONE" for k, v in nocache.items() if not k.startswith("FROM")), nocache

    # builder prune drops the cache: the next build runs again
    out = dy.ok("builder", "prune", "-f")
    assert "Total reclaimed space:" in out
    s = steps(dy("build", "-t", "cachetest", ctx).stderr)
    assert s["RUN echo one > /one"] == "DONE"


def test_dockerignore(dy, tmp_path):
    ctx = write(tmp_path, {
        "keep.txt": "k", "secret.key": "s", "logs/a.log": "a", "logs/important.log": "i",
        "sub/deep/x.tmp": "t", "sub/deep/y.txt": "y",
        ".dockerignore": "*.key\nlogs/*.log\n!logs/important.log\n**/*.tmp\n",
        "Dockerfile": "FROM busybox\nCOPY . /ctx/\n"})
    image = "bt-ignore"
    try:
        dy.ok("build", "-t", image, ctx)
        out = dy.ok("run", "--rm", image, "find", "/ctx", "-type", "f").split()
        assert sorted(out) == sorted(["/ctx/keep.txt", "/ctx/logs/important.log", "/ctx/sub/deep/y.txt",
                                      "/ctx/.dockerignore", "/ctx/Dockerfile"])
        write(tmp_path, {"Dockerfile.k": "FROM busybox\nCOPY secret.key /\n"})
        p = dy("build", "-f", os.path.join(ctx, "Dockerfile.k"), ctx)
        assert p.returncode == 1 and '"/secret.key": not found' in p.stderr
    finally:
        dy("rmi", "-f", image)


def test_failing_run_names_the_line_and_exit_code(dy, tmp_path):
    ctx = write(tmp_path, {"Dockerfile": "FROM busybox\nRUN echo about to fail\nRUN echo oops; exit 3\nRUN echo never\n"})
    before = dy.ok("ps", "-aq")
    images_before = dy.ok("images", "-q", "--filter", "dangling=true")
    p = dy("build", "--no-cache", "-t", "bt-fails", ctx)
    assert p.returncode == 1
    assert 'ERROR: process "/bin/sh -c echo oops; exit 3" did not complete successfully: exit code: 3' in p.stderr
    assert "Dockerfile:3" in p.stderr
    assert " >>> RUN echo oops; exit 3" in p.stderr
    assert re.search(r"\d+\.\d{3} oops", p.stderr)  # the step's output in the report
    assert not re.search(r"\d+\.\d{3} never", p.stderr)  # the build stopped there
    assert dy.ok("ps", "-aq") == before  # no build container left
    assert dy.ok("images", "-q", "--filter", "dangling=true") == images_before
    assert dy("inspect", "bt-fails").returncode != 0


def test_dockerfile_errors(dy, tmp_path):
    ctx = write(tmp_path, {"Dockerfile": "FROM busybox\nRUN true\nFOO bar\n"})
    p = dy("build", ctx)
    assert p.returncode == 1
    assert "Dockerfile:3" in p.stderr and "unknown instruction: FOO" in p.stderr
    p = dy("build", str(tmp_path / "missing"))
    assert p.returncode != 0 and "not found" in p.stderr
    write(tmp_path, {"Dockerfile": "FROM busybox:no-such-tag-here\n"})
    p = dy("build", ctx)
    assert p.returncode == 1 and "busybox:no-such-tag-here" in p.stderr


def test_build_args_and_defaults(dy, tmp_path):
    ctx = write(tmp_path, {"Dockerfile": """
ARG BASE=busybox
ARG UNUSED_META=m
FROM ${BASE}
ARG A=default-a
ARG B
ARG C=${A}-c
ENV FROM_ENV=${B:-b-unset} ALT=${A:+alt-set}
RUN echo "$A|$B|$C|$FROM_ENV|$ALT" > /args
"""})
    image = "bt-args"
    try:
        dy.ok("build", "-t", image, ctx)
        assert dy.ok("run", "--rm", image, "cat", "/args") == "default-a||default-a-c|b-unset|alt-set\n"
        dy.ok("build", "--build-arg", "A=given", "--build-arg", "B=bee", "-t", image, ctx)
        assert dy.ok("run", "--rm", image, "cat", "/args") == "given|bee|given-c|bee|alt-set\n"
    finally:
        dy("rmi", "-f", image)


def test_stdin_dockerfile_without_context_and_onbuild(dy, tmp_path):
    parent, child = "bt-onbuild-parent", "bt-onbuild-child"
    try:
        p = dy("build", "-t", parent, "-", input="FROM busybox\nONBUILD RUN echo triggered > /trig\n")
        assert p.returncode == 0, p.stderr
        assert inspect(dy, parent)["Config"]["OnBuild"] == ["RUN echo triggered > /trig"]
        p = dy("build", "-q", "-t", child, "-", input=f"FROM {parent}\nRUN cat /trig\n")
        assert p.returncode == 0, p.stderr
        assert re.fullmatch(r"sha256:[0-9a-f]{64}\n", p.stdout)
        assert dy.ok("run", "--rm", child, "cat", "/trig") == "triggered\n"
        assert not inspect(dy, child)["Config"].get("OnBuild")
        # -f - with a context directory
        ctx = write(tmp_path, {"f": "from ctx\n"})
        p = dy("build", "-f", "-", "-t", child, ctx, input="FROM busybox\nCOPY f /f\n")
        assert p.returncode == 0, p.stderr
        assert dy.ok("run", "--rm", child, "cat", "/f") == "from ctx\n"
        # without a context there is nothing to copy
        p = dy("build", "-", input="FROM busybox\nCOPY f /f\n")
        assert p.returncode == 1 and "not found" in p.stderr
    finally:
        dy("rmi", "-f", child, parent)


def test_hostile_context_cannot_leave_it(dy, tmp_path):
    ctx = tmp_path / "ctx"
    write(ctx, {"inside.txt": "inside\n", "dir/ok": "ok\n"})
    os.symlink("/etc/passwd", ctx / "dir" / "passwd-link")
    os.symlink("/etc", ctx / "etc-link")
    os.symlink("../../../../../../etc/passwd", ctx / "rel-link")
    write(tmp_path, {"outside.txt": "outside\n"})
    image = "bt-hostile"
    try:
        write(ctx, {"Dockerfile": "FROM busybox\nCOPY dir /dir/\nCOPY ../outside.txt ../../inside.txt /up/\n"})
        p = dy("build", "-t", image, str(ctx))
        assert p.returncode == 1 and '"/outside.txt": not found' in p.stderr  # `..` stops at the context root
        write(ctx, {"Dockerfile": "FROM busybox\nCOPY dir /dir/\nCOPY ../../inside.txt /up/\n"})
        dy.ok("build", "-t", image, str(ctx))
        out = dy.ok("run", "--rm", image, "sh", "-c", "readlink /dir/passwd-link; cat /up/inside.txt /dir/ok")
        assert out == "/etc/passwd\ninside\nok\n"  # a link inside a copied directory stays a link
        for src in ("etc-link/passwd", "rel-link", "dir/passwd-link"):
            write(ctx, {"Dockerfile": f"FROM busybox\nCOPY {src} /leak\n"})
            p = dy("build", "-t", image, str(ctx))
            # followed inside the context only: the host's /etc/passwd is never reached
            assert p.returncode == 1 and "not found" in p.stderr, (src, p.stderr)
    finally:
        dy("rmi", "-f", image)


def _tar(members: list[tuple[tarfile.TarInfo, bytes | None]], gz: bool = False) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if gz else "w") as tf:
        for ti, data in members:
            if data is not None:
                ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _member(name: str, kind=tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.linkname = link
    ti.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    return ti


def test_add_extracts_archives_and_refuses_hostile_ones(dy, tmp_path):
    good = _tar([(_member("pkg", tarfile.DIRTYPE), None), (_member("pkg/data.txt"), b"packed\n"),
                 (_member("pkg/link", tarfile.SYMTYPE, "/etc/passwd"), None)], gz=True)
    write(tmp_path, {"good.tgz": good, "plain.txt": "plain\n"})
    image = "bt-add"
    try:
        write(tmp_path, {"Dockerfile": "FROM busybox\nADD good.tgz /opt/\nADD plain.txt /p.txt\n"})
        dy.ok("build", "-t", image, str(tmp_path))
        out = dy.ok("run", "--rm", image, "sh", "-c", "cat /opt/pkg/data.txt /p.txt; readlink /opt/pkg/link")
        assert out == "packed\nplain\n/etc/passwd\n"
        hostile = {
            "dotdot.tar": _tar([(_member("../../escape.txt"), b"x")]),
            "absolute.tar": _tar([(_member("/abs.txt"), b"x")]),
            "through-link.tar": _tar([(_member("evil", tarfile.SYMTYPE, "/etc"), None),
                                      (_member("evil/passwd"), b"pwned\n")]),
            "whiteout.tar": _tar([(_member(".wh.bin"), b"")]),
        }
        write(tmp_path, hostile)
        for name in hostile:
            write(tmp_path, {"Dockerfile": f"FROM busybox\nADD {name} /target/\n"})
            p = dy("build", "-t", image, str(tmp_path))
            assert p.returncode == 1, (name, p.stderr)
            assert "Dockerfile:2" in p.stderr, p.stderr
        assert not os.path.exists("/escape.txt")
        write(tmp_path, {"Dockerfile": "FROM busybox\nADD https://example.com/x.tar /x\n"})
        p = dy("build", "-t", image, str(tmp_path))
        assert p.returncode == 1 and "ADD from a URL is not supported" in p.stderr
    finally:
        dy("rmi", "-f", image)


def test_copy_chown_chmod_globs_and_symlinked_destination(dy, tmp_path):
    ctx = write(tmp_path, {"a.conf": "a", "b.conf": "b", "c.txt": "c", "Dockerfile": """
FROM busybox
RUN mkdir -p /real && ln -s /real /linked && echo appuser:x:1234:1234::/:/bin/sh >> /etc/passwd && echo appuser:x:1234: >> /etc/group
COPY --chown=appuser:appuser --chmod=640 *.conf /linked/
COPY --chown=42 c.txt /numeric.txt
"""})
    image = "bt-copyflags"
    try:
        dy.ok("build", "-t", image, ctx)
        out = dy.ok("run", "--rm", image, "sh", "-c",
                    "stat -c '%n %u %g %a' /real/a.conf /real/b.conf /numeric.txt; test -L /linked && echo link")
        assert out == "/real/a.conf 1234 1234 640\n/real/b.conf 1234 1234 640\n/numeric.txt 42 42 644\nlink\n"
    finally:
        dy("rmi", "-f", image)


def _podman_env() -> dict | None:
    setup = "/work/shared/peers/setup.sh"
    if not shutil.which("podman") or not os.path.exists(setup):
        return None
    p = subprocess.run(["bash", setup, "env"], capture_output=True, text=True)
    if p.returncode != 0:
        return None
    env = dict(os.environ)
    for line in p.stdout.splitlines():
        if line.startswith("export "):
            k, _, v = line[7:].partition("=")
            env[k] = v
    return env


def test_round_trip_build_save_load_into_podman(dy, tmp_path):
    env = _podman_env()
    if env is None:
        pytest.skip("podman (and /work/shared/peers/setup.sh) not installed")
    ctx = write(tmp_path / "ctx", {"msg": "from dockyard\n", "Dockerfile": """
FROM busybox
COPY msg /msg
RUN echo built >> /msg
ENV WHO=podman
CMD ["sh", "-c", "cat /msg; echo $WHO"]
"""})
    image = "bt-roundtrip:1"
    archive = str(tmp_path / "img.tar")
    try:
        dy.ok("build", "-t", image, ctx)
        assert dy.ok("run", "--rm", image) == "from dockyard\nbuilt\npodman\n"
        dy.ok("save", "-o", archive, image)
        p = subprocess.run(["bash", "/work/shared/peers/setup.sh", "ns", "sh", "-c",
                            f"podman load -q -i {archive} >/dev/null && podman run --rm --network none {image}; "
                            f"rc=$?; podman rmi -f {image} >/dev/null 2>&1; exit $rc"],
                           capture_output=True, text=True, env=env, timeout=120)
        if p.returncode != 0 and ("cannot" in p.stderr and "namespace" in p.stderr):
            pytest.skip(f"podman cannot run here: {p.stderr.strip()[-200:]}")
        assert p.returncode == 0, p.stderr
        assert p.stdout == "from dockyard\nbuilt\npodman\n"
    finally:
        dy("rmi", "-f", image)
