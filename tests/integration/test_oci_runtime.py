"""`dockyard-runtime`, the OCI runtime command line, driven as containerd or the
OCI conformance suite drive runc: a bundle on disk, then create / start / state /
kill / delete, checked from inside the container and from the host."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import pytest

from conftest import IS_ROOT, SRC

pytestmark = pytest.mark.skipif(not IS_ROOT, reason="needs root: namespaces, mounts and cgroups")

BUSYBOX = next((p for p in ("/usr/bin/busybox", "/bin/busybox") if os.path.exists(p)), None)


def runtime_command() -> list[str]:
    exe = os.environ.get("DOCKYARD_RUNTIME_CLI") or shutil.which("dockyard-runtime")
    if exe:
        return [exe]
    return [sys.executable, "-c", "from dockyard.cli.runtime import run_and_exit; run_and_exit()"]


class Runtime:
    def __init__(self, root: str) -> None:
        self.root = root
        self.cmd = runtime_command()
        self.env = dict(os.environ, PYTHONPATH=SRC)

    def __call__(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        # files, not pipes: after `create` the container's init holds the command's
        # stdout and stderr, and a pipe would not close until the container exits
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            p = subprocess.run([*self.cmd, "--root", self.root, *args], stdout=out, stderr=err,
                               stdin=subprocess.DEVNULL, timeout=timeout, env=self.env)
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(p.args, p.returncode, out.read().decode(), err.read().decode())

    def ok(self, *args: str, **kw) -> str:
        p = self(*args, **kw)
        assert p.returncode == 0, f"dockyard-runtime {' '.join(args)} exited {p.returncode}: {p.stderr}"
        return p.stdout

    def ids(self) -> list[str]:
        return os.listdir(self.root) if os.path.isdir(self.root) else []

    def state(self, cid: str) -> dict:
        return json.loads(self.ok("state", cid))

    def wait_status(self, cid: str, status: str, timeout: float = 10) -> dict:
        deadline = time.time() + timeout
        while True:
            st = self.state(cid)
            if st["status"] == status or time.time() > deadline:
                return st
            time.sleep(0.02)


@pytest.fixture
def rt(tmp_path):
    r = Runtime(str(tmp_path / "state"))
    yield r
    leftovers = []
    for cid in os.listdir(r.root) if os.path.isdir(r.root) else []:
        leftovers.append(cid)
        r("delete", "--force", cid)
    mounts = [line.split()[4] for line in open("/proc/self/mountinfo") if str(tmp_path) in line.split()[4]]
    assert not mounts, f"mounts left behind: {mounts}"
    assert not leftovers, f"containers left behind: {leftovers}"


@pytest.fixture
def bundle(tmp_path):
    """A bundle with a busybox root file system and `dockyard-runtime spec`'s config;
    `write(**changes)` edits the config."""
    if BUSYBOX is None:
        pytest.skip("needs a static busybox (Debian's busybox-static)")
    b = tmp_path / "bundle"
    rootfs = b / "rootfs"
    for d in ("bin", "proc", "sys", "dev", "etc", "tmp"):
        (rootfs / d).mkdir(parents=True)
    shutil.copy(BUSYBOX, rootfs / "bin" / "busybox")
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True).stdout.split()
    for a in applets:
        if a != "busybox":
            os.symlink("busybox", rootfs / "bin" / a)
    (rootfs / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n")
    (rootfs / "etc" / "group").write_text("root:x:0:\nnobody:x:65534:\n")
    os.chmod(rootfs / "tmp", 0o1777)
    Runtime(str(tmp_path / "state")).ok("spec", "--bundle", str(b))

    class Bundle:
        path = str(b)
        root = str(rootfs)

        @staticmethod
        def config() -> dict:
            return json.loads((b / "config.json").read_text())

        @staticmethod
        def write(args: list[str] | None = None, **changes) -> dict:
            cfg = Bundle.config()
            cfg["root"]["readonly"] = False
            if args:
                cfg["process"]["args"] = args
            for key, value in changes.items():
                node = cfg
                *path, last = key.split("__")
                for p in path:
                    node = node.setdefault(p, {})
                node[last] = value
            (b / "config.json").write_text(json.dumps(cfg))
            return cfg

    return Bundle


def new_id() -> str:
    return "t-" + uuid.uuid4().hex[:12]


def test_run_gives_output_and_exit_code(rt, bundle):
    bundle.write(["sh", "-c", "echo hi from $(hostname); exit 3"])
    p = rt("run", "--bundle", bundle.path, new_id())
    assert p.stdout == "hi from dockyard\n"
    assert p.returncode == 3
    assert rt.ids() == []


def test_lifecycle_create_start_state_kill_delete(rt, bundle, tmp_path):
    bundle.write(["sh", "-c", "echo started > /started; exec sleep 60"])
    cid = new_id()
    pid_file = tmp_path / "pid"
    rt.ok("create", "--bundle", bundle.path, "--pid-file", str(pid_file), cid)
    st = rt.state(cid)
    assert st["status"] == "created" and st["id"] == cid and st["bundle"] == bundle.path
    assert pid_file.read_text() == str(st["pid"])  # no newline, as runc writes it
    assert os.path.exists(f"/proc/{st['pid']}")
    assert not os.path.exists(bundle.root + "/started")  # the program waits for start
    p = rt("create", "--bundle", bundle.path, cid)
    assert p.returncode == 1 and "already exists" in p.stderr
    rt.ok("start", cid)
    assert rt.wait_status(cid, "running")["status"] == "running"
    deadline = time.time() + 5
    while not os.path.exists(bundle.root + "/started") and time.time() < deadline:
        time.sleep(0.02)
    assert open(bundle.root + "/started").read() == "started\n"
    p = rt("start", cid)
    assert p.returncode == 1 and "running" in p.stderr
    p = rt("delete", cid)
    assert p.returncode == 1 and "running" in p.stderr
    assert rt.state(cid)["status"] == "running"  # a refused delete changes nothing
    assert cid in rt.ok("list", "-q").split()
    rt.ok("kill", cid, "KILL")
    assert rt.wait_status(cid, "stopped")["status"] == "stopped"
    p = rt("kill", cid, "TERM")
    assert p.returncode == 1 and "stopped" in p.stderr
    rt.ok("delete", cid)
    p = rt("state", cid)
    assert p.returncode == 1 and "does not exist" in p.stderr


def test_delete_force_kills_a_running_container(rt, bundle):
    bundle.write(["sleep", "60"])
    cid = new_id()
    rt.ok("run", "--detach", "--bundle", bundle.path, cid)
    pid = rt.state(cid)["pid"]
    rt.ok("delete", "--force", cid)
    deadline = time.time() + 5
    while os.path.exists(f"/proc/{pid}") and time.time() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    break
        except FileNotFoundError:
            break
        time.sleep(0.02)
    assert rt.ids() == []


def test_signals_reach_the_container(rt, bundle):
    bundle.write(["sh", "-c", "trap 'touch /got-usr1' USR1; while true; do sleep 0.05; done"])
    cid = new_id()
    rt.ok("run", "-d", "--bundle", bundle.path, cid)
    time.sleep(0.2)
    rt.ok("kill", cid, "SIGUSR1")
    deadline = time.time() + 5
    while not os.path.exists(bundle.root + "/got-usr1") and time.time() < deadline:
        time.sleep(0.02)
    assert os.path.exists(bundle.root + "/got-usr1")
    p = rt("kill", cid, "NOTASIGNAL")
    assert p.returncode == 1 and "invalid signal" in p.stderr
    rt.ok("kill", "--all", cid, "9")
    assert rt.wait_status(cid, "stopped")["status"] == "stopped"
    rt.ok("delete", cid)


def _hook(log: str, kind: str, extra: str = "") -> dict:
    return {"path": "/bin/sh", "args": ["sh", "-c", f"cat > {log}.{kind}.json; echo {kind} >> {log}{extra}"]}


def test_hooks_run_in_order_with_the_state_on_stdin(rt, bundle, tmp_path):
    log = str(tmp_path / "hooks")
    cfg = bundle.write(["true"], annotations={"org.example.key": "value"}, hooks={
        "prestart": [_hook(log, "prestart")],
        "createRuntime": [_hook(log, "createRuntime")],
        # before pivot_root: the host's paths are still in reach
        "createContainer": [_hook(log, "createContainer")],
        # in the container, after pivot_root: its own /bin/sh and files
        "startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "cat > /startContainer.json"]}],
        "poststart": [_hook(log, "poststart")],
        "poststop": [_hook(log, "poststop")],
    })
    cid = new_id()
    rt.ok("create", "--bundle", bundle.path, cid)
    pid = rt.state(cid)["pid"]
    assert open(log).read().split() == ["prestart", "createRuntime", "createContainer"]
    rt.ok("start", cid)
    rt.wait_status(cid, "stopped")
    rt.ok("delete", cid)
    assert open(log).read().split() == ["prestart", "createRuntime", "createContainer", "poststart", "poststop"]
    for kind, status in (("prestart", "created"), ("createRuntime", "created"), ("createContainer", "created"),
                         ("poststart", "running"), ("poststop", "stopped")):
        state = json.load(open(f"{log}.{kind}.json"))
        assert state["id"] == cid and state["bundle"] == bundle.path and state["status"] == status, kind
        assert state["annotations"] == cfg["annotations"] and state["ociVersion"] == cfg["ociVersion"]
        assert state["pid"] == pid, kind
    inside = json.load(open(bundle.root + "/startContainer.json"))
    assert inside["id"] == cid and inside["pid"] == pid


def test_a_failing_prestart_hook_fails_create_and_leaves_nothing(rt, bundle):
    bundle.write(["true"], linux__cgroupsPath=f"/dockyard-test-{uuid.uuid4().hex[:8]}",
                 hooks={"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", "echo no way >&2; exit 4"]}]})
    cid = new_id()
    p = rt("create", "--bundle", bundle.path, cid)
    assert p.returncode == 1
    assert "prestart hook #0" in p.stderr and "exit code 4" in p.stderr and "no way" in p.stderr
    assert rt.ids() == []
    cg = bundle.config()["linux"]["cgroupsPath"]
    assert not any(os.path.exists(f"/sys/fs/cgroup/{h}{cg}") for h in os.listdir("/sys/fs/cgroup"))


def test_a_hook_past_its_timeout_is_killed(rt, bundle):
    bundle.write(["true"], hooks={"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]})
    start = time.time()
    p = rt("create", "--bundle", bundle.path, new_id())
    assert p.returncode == 1 and "timed out" in p.stderr
    assert time.time() - start < 10


def test_a_failing_poststart_hook_is_only_a_warning(rt, bundle):
    bundle.write(["true"], hooks={"poststart": [{"path": "/bin/false"}]})
    cid = new_id()
    rt.ok("create", "--bundle", bundle.path, cid)
    p = rt("start", cid)
    assert p.returncode == 0 and "warning" in p.stderr and "poststart" in p.stderr
    rt.wait_status(cid, "stopped")
    rt.ok("delete", cid)


def test_namespaces_given_by_path_are_joined(rt, bundle):
    holder = subprocess.Popen(["unshare", "--net", "--uts", "sleep", "60"])
    try:
        deadline = time.time() + 5
        own = os.readlink("/proc/self/ns/net")
        while os.readlink(f"/proc/{holder.pid}/ns/net") == own and time.time() < deadline:
            time.sleep(0.01)
        cfg = bundle.config()
        namespaces = [ns for ns in cfg["linux"]["namespaces"] if ns["type"] not in ("network", "uts")]
        namespaces += [{"type": "network", "path": f"/proc/{holder.pid}/ns/net"},
                       {"type": "uts", "path": f"/proc/{holder.pid}/ns/uts"}]
        bundle.write(["sh", "-c", "readlink /proc/self/ns/net; readlink /proc/self/ns/uts"],
                     linux__namespaces=namespaces)
        out = rt.ok("run", "--bundle", bundle.path, new_id())
        assert out.split() == [os.readlink(f"/proc/{holder.pid}/ns/net"), os.readlink(f"/proc/{holder.pid}/ns/uts")]
    finally:
        holder.kill()
        holder.wait()


def test_the_config_is_applied_inside(rt, bundle):
    with open(bundle.root + "/etc/secret", "w") as f:
        f.write("s3cret")
    bundle.write(
        ["sh", "-c", "cat /etc/secret; echo; touch /tmp/x 2>&1; head -c 3 /dev/myzero | od -An -tx1; "
                     "cat /proc/sys/net/ipv4/ip_forward; ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj; "
                     "hostname; grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status"],
        hostname="inside",
        linux__maskedPaths=["/etc/secret"], linux__readonlyPaths=["/tmp"],
        linux__devices=[{"path": "/dev/myzero", "type": "c", "major": 1, "minor": 5, "fileMode": 0o666}],
        linux__sysctl={"net.ipv4.ip_forward": "1"},
        process__rlimits=[{"type": "RLIMIT_NOFILE", "soft": 123, "hard": 456}],
        process__oomScoreAdj=100,
        linux__seccomp={"defaultAction": "SCMP_ACT_ALLOW",
                        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]},
    )
    lines = rt.ok("run", "--bundle", bundle.path, new_id()).splitlines()
    assert lines[0] == ""  # masked: empty
    assert "Read-only file system" in lines[1]
    assert lines[2].split() == ["00", "00", "00"]
    assert lines[3:8] == ["1", "123", "456", "100", "inside"]
    assert lines[8].split() == ["NoNewPrivs:", "1"] and lines[9].split() == ["Seccomp:", "2"]
    bundle.write(["mkdir", "/newdir"], linux__seccomp={
        "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]})
    p = rt("run", "--bundle", bundle.path, new_id())
    assert p.returncode != 0 and not os.path.exists(bundle.root + "/newdir")


def test_a_user_namespace_maps_root_to_an_unprivileged_uid(rt, bundle):
    cfg = bundle.config()
    bundle.write(["sh", "-c", "id -u; cat /proc/self/uid_map /proc/self/gid_map; sleep 30"],
                 linux__namespaces=cfg["linux"]["namespaces"] + [{"type": "user"}],
                 linux__uidMappings=[{"containerID": 0, "hostID": 200000, "size": 65536}],
                 linux__gidMappings=[{"containerID": 0, "hostID": 300000, "size": 65536}])
    cid = new_id()
    out_path = os.path.join(os.path.dirname(bundle.path), "out")
    with open(out_path, "w") as out, tempfile.TemporaryFile() as err:
        p = subprocess.run([*rt.cmd, "--root", rt.root, "create", "--bundle", bundle.path, cid],
                           stdout=out, stderr=err, env=rt.env, timeout=60)
        err.seek(0)
        assert p.returncode == 0, err.read()
    rt.ok("start", cid)
    pid = rt.wait_status(cid, "running")["pid"]
    deadline = time.time() + 5
    while open(out_path).read().count("\n") < 3 and time.time() < deadline:
        time.sleep(0.02)
    assert open(out_path).read().split() == ["0", "0", "200000", "65536", "0", "300000", "65536"]
    with open(f"/proc/{pid}/status") as f:
        uids = next(line for line in f if line.startswith("Uid:")).split()[1:]
    assert uids == ["200000"] * 4  # root inside, nobody special outside
    rt.ok("delete", "--force", cid)


@pytest.mark.parametrize("change, message", [
    ({"process__capabilities": {"bounding": ["CAP_TEST"]}}, "unknown capability"),
    ({"ociVersion": "invalid"}, "ociVersion"),
    ({"ociVersion": "2.0.0"}, "ociVersion"),
    ({"process__rlimits": [{"type": "RLIMIT_TEST", "soft": 1, "hard": 1}]}, "rlimit"),
    ({"linux__sysctl": {"kernel.panic": "1"}}, "not in a separate kernel namespace"),
    ({"linux__namespaces": [{"type": "mount"}, {"type": "bogus"}]}, "namespace type"),
    ({"linux__uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]}, "user namespace"),
    ({"mounts": [{"destination": "relative", "type": "tmpfs", "source": "tmpfs"}]}, "absolute"),
])
def test_invalid_configs_are_refused(rt, bundle, change, message):
    bundle.write(["true"], **change)
    p = rt("create", "--bundle", bundle.path, new_id())
    assert p.returncode == 1 and message in p.stderr and "Traceback" not in p.stderr
    assert p.stderr.count("\n") == 1
    assert rt.ids() == []


def test_unknown_properties_and_annotations_are_ignored(rt, bundle):
    cfg = bundle.write(["true"], annotations={"org.unknown.thing": ""})
    cfg["somethingNew"] = {"a": 1}
    with open(bundle.path + "/config.json", "w") as f:
        json.dump(cfg, f)
    assert rt("run", "--bundle", bundle.path, new_id()).returncode == 0


def _cgroup_file(path: str, v1: str, v2: str) -> str:
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        return f"/sys/fs/cgroup{path}/{v2}"
    return f"/sys/fs/cgroup/{v1.split('.')[0]}{path}/{v1}"


def test_cgroup_limits_are_set_and_removed_on_delete(rt, bundle):
    path = f"/dockyard-test-{uuid.uuid4().hex[:8]}/ctr"
    bundle.write(["sleep", "30"], linux__cgroupsPath=path,
                 linux__resources={"memory": {"limit": 64 << 20}, "pids": {"limit": 42},
                                   "devices": [{"allow": False, "access": "rwm"}]})
    cid = new_id()
    rt.ok("create", "--bundle", bundle.path, cid)
    assert open(_cgroup_file(path, "memory.limit_in_bytes", "memory.max")).read().strip() == str(64 << 20)
    assert open(_cgroup_file(path, "pids.max", "pids.max")).read().strip() == "42"
    pid = rt.state(cid)["pid"]
    with open(f"/proc/{pid}/cgroup") as f:
        assert any(line.rstrip().endswith(path) for line in f)
    rt.ok("delete", "--force", cid)
    parent = path.rsplit("/", 1)[0]
    assert not os.path.exists(os.path.dirname(_cgroup_file(path, "pids.max", "pids.max")))
    assert not os.path.exists(os.path.dirname(_cgroup_file(parent, "pids.max", "pids.max")))


def test_without_a_mount_namespace_delete_takes_the_mounts_away(rt, bundle):
    cfg = bundle.config()
    bundle.write(["sleep", "30"],
                 linux__namespaces=[ns for ns in cfg["linux"]["namespaces"] if ns["type"] != "mount"])
    cid = new_id()
    rt.ok("create", "--bundle", bundle.path, cid)
    with open("/proc/self/mountinfo") as f:
        assert any(line.split()[4] == bundle.root + "/proc" for line in f)
    rt.ok("delete", "--force", cid)
    with open("/proc/self/mountinfo") as f:
        assert not any(bundle.root in line.split()[4] for line in f)


def test_a_terminal_is_sent_on_the_console_socket(rt, bundle, tmp_path):
    bundle.write(["sh", "-c", "tty; echo on-the-terminal"], process__terminal=True)
    sock_path = str(tmp_path / "console.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(sock_path)
    server.listen(1)
    got: dict = {}

    def receive():
        conn, _ = server.accept()
        name, fds, _, _ = socket.recv_fds(conn, 1024, 1)
        got["name"], got["fd"] = name.decode(), fds[0]
        conn.close()

    t = threading.Thread(target=receive)
    t.start()
    cid = new_id()
    try:
        rt.ok("create", "--bundle", bundle.path, "--console-socket", sock_path, cid)
        t.join(10)
        assert got["name"].startswith("/dev/pts/")
        rt.ok("start", cid)
        output = b""
        deadline = time.time() + 5
        while b"on-the-terminal" not in output and time.time() < deadline:
            try:
                chunk = os.read(got["fd"], 4096)
            except OSError:  # EIO: the other side closed
                break
            if not chunk:
                break
            output += chunk
        assert b"/dev/pts/0" in output and b"on-the-terminal" in output
        rt.wait_status(cid, "stopped")
        rt.ok("delete", cid)
    finally:
        server.close()
        if "fd" in got:
            os.close(got["fd"])
    p = rt("create", "--bundle", bundle.path, new_id())
    assert p.returncode == 1 and "--console-socket" in p.stderr


def test_usage_errors(rt):
    for args in (["start"], ["delete"], ["state"], ["kill"], ["bogus"], ["create", "--no-such-flag", "x"]):
        p = rt(*args)
        assert p.returncode == 1 and p.stderr.startswith("dockyard-runtime: ") and "Traceback" not in p.stderr
    p = rt("start", "no-such-container")
    assert p.returncode == 1 and "does not exist" in p.stderr
    p = rt("create", "--bundle", "/nonexistent", "x")
    assert p.returncode == 1 and "config.json" in p.stderr
    assert rt.ids() == []


@pytest.mark.parametrize("propagation, expected", [
    ("shared", "exposed"), ("private", "hidden"), ("slave", "hidden"), ("unbindable", "refused")])
def test_root_propagation(rt, bundle, propagation, expected):
    """What runtime-tools checks: a bind of / made inside, then a mount elsewhere;
    only a shared root shows it through the bind, an unbindable one refuses it."""
    cfg = bundle.config()
    caps = {k: v + ["CAP_SYS_ADMIN"] for k, v in cfg["process"]["capabilities"].items()}
    script = ("mkdir -p /t /m /src && touch /src/file; "
              "if ! mount --bind / /t 2>/dev/null; then echo refused; exit 0; fi; mount --bind /src /m && "
              "if [ -e /t/m/file ]; then echo exposed; else echo hidden; fi")
    bundle.write(["sh", "-c", script], linux__rootfsPropagation=propagation, process__capabilities=caps)
    assert rt.ok("run", "--bundle", bundle.path, new_id()).strip() == expected


def test_run_in_a_user_namespace_returns_the_exit_code(rt, bundle):
    """There PID 1 is forked by a middle process; `run` still waits for it."""
    cfg = bundle.config()
    bundle.write(["sh", "-c", "exit 5"],
                 linux__namespaces=cfg["linux"]["namespaces"] + [{"type": "user"}],
                 linux__uidMappings=[{"containerID": 0, "hostID": 200000, "size": 65536}],
                 linux__gidMappings=[{"containerID": 0, "hostID": 200000, "size": 65536}])
    assert rt("run", "--bundle", bundle.path, new_id()).returncode == 5
    assert rt.ids() == []
