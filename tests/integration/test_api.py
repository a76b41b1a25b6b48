"""The importable Python API: what the README's example does, without the CLI."""

import pytest

from dockyard import CreateOptions, Engine, Resources
from dockyard.errors import ContainerNotFound, ImageNotFound, StartError


@pytest.fixture
def engine(dy):
    e = Engine(dy.root, dy.runroot)
    yield e
    e.close()


def test_run_captures_output_and_exit_code(engine):
    result = engine.run("busybox", ["sh", "-c", "echo hi there; echo err >&2; exit 5"])
    assert (result.exit_code, result.stdout, result.stderr) == (5, b"hi there\n", b"err\n")
    assert [(s, t) for s, t, _ in engine.logs(result.id)] == [("stdout", "hi there\n"), ("stderr", "err\n")]
    engine.remove(result.id)
    with pytest.raises(ContainerNotFound):
        engine.container(result.id)


def test_detached_lifecycle(engine):
    c = engine.run("busybox", ["sleep", "30"], detach=True, name="api-detached",
                   resources=Resources(memory=64 << 20))
    assert c.state == "running" and c.name == "api-detached"
    assert engine.inspect_container("api-detached")["HostConfig"]["Memory"] == 64 << 20
    engine.stop(c.id, timeout=1)
    assert engine.wait(c.id) == 137
    engine.remove(c.id)


def test_create_and_start_attached(engine, tmp_path):
    c = engine.create("busybox", ["echo", "from create"], CreateOptions(env=["A=1"]))
    out = tmp_path / "out"
    with open(out, "wb") as f:
        handle = engine.start(c.id, attach=True, stdout=f.fileno(), stderr=f.fileno())
        assert handle.wait() == 0
    assert out.read_bytes() == b"from create\n"
    engine.remove(c.id)


def test_errors_are_exceptions_with_docker_codes(engine):
    with pytest.raises(ImageNotFound):
        engine.run("no-such-image", pull="never")
    with pytest.raises(StartError) as e:
        engine.run("busybox", ["no-such-command"], auto_remove=True)
    assert e.value.exit_code == 127
