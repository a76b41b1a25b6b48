"""`run`: the image's command or the user's, its output, and Docker's exit codes."""

import os

from dockyard.image.hello import GREETING


def test_hello_world(dy):
    p = dy("run", "--rm", "hello-world")
    assert p.returncode == 0, p.stderr
    assert p.stdout == GREETING


def test_busybox_echo_overrides_default_command(dy):
    assert dy.ok("run", "--rm", "busybox", "echo", "hi", "there") == "hi there\n"


def test_ls_shows_the_image_root_not_the_hosts(dy):
    names = dy.ok("run", "--rm", "busybox", "ls", "/").split()
    assert {"bin", "dev", "etc", "proc", "sys", "tmp"} <= set(names)
    host_only = set(os.listdir("/")) - set(names)
    assert host_only, "the host's / has entries the image lacks; one of them must be missing inside"


def test_exit_code_is_the_containers(dy):
    assert dy("run", "--rm", "busybox", "sh", "-c", "exit 7").returncode == 7


def test_command_not_found_is_127(dy):
    p = dy("run", "--rm", "busybox", "no-such-command")
    assert p.returncode == 127
    assert 'executable file not found in $PATH' in p.stderr
    assert p.stderr.count("\n") == 1 and "Traceback" not in p.stderr


def test_missing_path_is_127_and_not_executable_is_126(dy):
    assert dy("run", "--rm", "busybox", "/nope/x").returncode == 127
    assert dy("run", "--rm", "busybox", "/etc/passwd").returncode == 126
    assert dy("run", "--rm", "busybox", "/tmp").returncode == 126


def test_unknown_image_is_125(dy):
    p = dy("run", "--rm", "no-such-image")
    assert p.returncode == 125
    lines = p.stderr.splitlines()
    assert lines[0] == "Unable to find image 'no-such-image:latest' locally"
    assert len(lines) == 2 and "Traceback" not in p.stderr  # then why the pull failed


def test_bad_flag_is_125_with_one_line(dy):
    p = dy("run", "--no-such-flag", "busybox")
    assert p.returncode == 125
    assert p.stderr.count("\n") == 1 and "unknown flag: --no-such-flag" in p.stderr


def test_stdout_and_stderr_stay_apart(dy):
    p = dy("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2")
    assert p.stdout == "out\n" and p.stderr == "err\n"


def test_env_workdir_user_hostname_entrypoint(dy, tmp_path):
    env_file = tmp_path / "env"
    env_file.write_text("# comment\nFROM_FILE=yes\n\nHOST_VAR\n")
    out = dy.ok("run", "--rm", "-e", "A=1", "--env-file", str(env_file), "-e", "HOST_VAR",
                "-w", "/made/for/you", "-u", "nobody", "--hostname", "box",
                "busybox", "sh", "-c", 'echo $A $FROM_FILE $HOST_VAR; pwd; id -un; hostname; echo $HOME',
                env={"HOST_VAR": "from-host"})
    assert out.split("\n")[:5] == ["1 yes from-host", "/made/for/you", "nobody", "box", "/home"]
    assert dy.ok("run", "--rm", "--entrypoint", "echo", "busybox", "via", "entrypoint") == "via entrypoint\n"


def test_default_environment_like_docker(dy):
    env = dy.ok("run", "--rm", "--hostname", "h1", "busybox", "env").split()
    assert "HOSTNAME=h1" in env and "HOME=/root" in env
    assert "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" in env


def test_stdin_is_piped_with_i(dy):
    assert dy.ok("run", "--rm", "-i", "busybox", "tr", "a-z", "A-Z", input="piped in\n") == "PIPED IN\n"
    # without -i the container reads nothing
    assert dy.ok("run", "--rm", "busybox", "cat", input="ignored\n") == ""


def test_detached_run_prints_the_full_id(dy):
    cid = dy.ok("run", "-d", "busybox", "sleep", "30").strip()
    assert len(cid) == 64 and all(c in "0123456789abcdef" for c in cid)
    assert dy.ok("inspect", "-f", "{{.State.Status}}", cid).strip() == "running"
    dy.ok("rm", "-f", cid)


def test_rm_removes_the_container(dy):
    before = set(dy.container_ids())
    dy.ok("run", "--rm", "busybox", "true")
    assert set(dy.container_ids()) == before


def test_name_in_use_is_a_conflict(dy):
    dy.ok("run", "--name", "dup-name", "busybox", "true")
    p = dy("run", "--name", "dup-name", "busybox", "true")
    assert p.returncode == 125 and 'The container name "/dup-name" is already in use' in p.stderr
    dy.ok("rm", "dup-name")
