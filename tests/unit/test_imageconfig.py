"""Docker's rules for combining the image's Entrypoint/Cmd with the user's command."""

import pytest

from dockyard.errors import InvalidArgument
from dockyard.oci.imageconfig import command_for, merge_env


def test_args_replace_cmd():
    assert command_for(None, ["sh"], None, ["echo", "hi"]) == ([], ["echo", "hi"])


def test_image_cmd_when_no_args():
    assert command_for(None, ["sh"], None, []) == ([], ["sh"])


def test_entrypoint_gets_args_or_cmd():
    assert command_for(["/ep"], ["x"], None, []) == (["/ep"], ["x"])
    assert command_for(["/ep"], ["x"], None, ["y"]) == (["/ep"], ["y"])


def test_entrypoint_override_drops_image_cmd():
    assert command_for(["/ep"], ["x"], "/other", []) == (["/other"], [])
    assert command_for(["/ep"], ["x"], "/other", ["a"]) == (["/other"], ["a"])


def test_empty_entrypoint_override_clears_it():
    assert command_for(["/ep"], ["x"], "", ["ls"]) == ([], ["ls"])


def test_nothing_to_run_is_an_error():
    with pytest.raises(InvalidArgument, match="no command specified"):
        command_for(None, None, None, [])


def test_merge_env_later_wins_in_place_of_key():
    assert merge_env(["PATH=/bin", "A=1"], ["A=2", "B=3"]) == ["PATH=/bin", "A=2", "B=3"]
