"""The hot path's JSON writer produces what json.loads reads back."""

import json

import pytest

from dockyard.core import jsonenc


def test_round_trip():
    doc = {"a": [1, 2.5, True, False, None, "x\"y\n\u00e9\u2603", {"b": []}], "": {}}
    assert json.loads(jsonenc.dumps(doc)) == doc


def test_compact_and_ordered():
    assert jsonenc.dumps({"b": 1, "a": [1, 2]}) == '{"b":1,"a":[1,2]}'


def test_rejects_what_json_cannot_hold():
    with pytest.raises(ValueError):
        jsonenc.dumps(float("nan"))
    with pytest.raises(TypeError):
        jsonenc.dumps({1: 2})
    with pytest.raises(TypeError):
        jsonenc.dumps(object())
