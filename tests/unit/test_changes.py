"""`import --change`: Dockerfile instructions applied to an image config."""

import pytest

from dockyard.errors import InvalidArgument
from dockyard.image.changes import apply_changes


def test_cmd_forms():
    assert apply_changes({}, ['CMD ["echo","hi"]'])["Cmd"] == ["echo", "hi"]
    assert apply_changes({}, ["CMD echo hi"])["Cmd"] == ["/bin/sh", "-c", "echo hi"]
    assert apply_changes({}, ['ENTRYPOINT ["/ep"]'])["Entrypoint"] == ["/ep"]


def test_env_label_expose_volume_workdir_user():
    c = apply_changes({}, ["ENV A=1 B=\"two words\"", "ENV C 3", "LABEL k=v", "EXPOSE 80 53/udp",
                           'VOLUME ["/data"]', "WORKDIR /srv", "USER app:app", "STOPSIGNAL SIGINT"])
    assert c["Env"] == ["A=1", "B=two words", "C=3"]
    assert c["Labels"] == {"k": "v"} and c["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}}
    assert c["Volumes"] == {"/data": {}} and c["WorkingDir"] == "/srv"
    assert c["User"] == "app:app" and c["StopSignal"] == "SIGINT"


def test_env_overrides_existing_key():
    assert apply_changes({"Env": ["A=1", "B=2"]}, ["ENV A=9"])["Env"] == ["B=2", "A=9"]


@pytest.mark.parametrize("bad", ["RUN echo", "FROM x", "EXPOSE http", "ENV", "WORKDIR"])
def test_rejected(bad):
    with pytest.raises(InvalidArgument):
        apply_changes({}, [bad])
