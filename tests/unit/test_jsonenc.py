"""The hot paths' JSON: the writer produces what json.loads reads back, the reader reads what json.loads reads."""

import json

import pytest

from conftest import SRC
from dockyard.core import jsonenc


def test_round_trip():
    doc = {"a": [1, 2.5, True, False, None, "x\"y\n\u00e9\u2603", {"b": []}], "": {}}
    assert json.loads(jsonenc.dumps(doc)) == doc


def test_compact_and_ordered():
    assert jsonenc.dumps({"b": 1, "a": [1, 2]}) == '{"b":1,"a":[1,2]}'


def test_rejects_what_json_cannot_hold():
    with pytest.raises(ValueError):
        jsonenc.dumps(float("nan"))
    assert jsonenc.dumps({1: 2}) == json.dumps({1: 2}, separators=(",", ":"))  # keys made strings, as json does
    with pytest.raises(TypeError):
        jsonenc.dumps(object())


@pytest.mark.parametrize("text", [
    '{"a": [1, 2.5, null, true, false, "x\\u00e9"], "b": {}}', "  [1]  \n", '"s"', "1e400", "-0", "[]",
    '{"nested": {"deep": [{"k": "v"}]}}', '"\\ud83d\\ude00"',
])
def test_loads_reads_what_json_reads(text):
    assert jsonenc.loads(text) == json.loads(text)
    assert jsonenc.loads(text.encode()) == json.loads(text)


@pytest.mark.parametrize("text", ["", "{", "[1,]", '{"a":1} x', "nul", "{'a': 1}", "[1] [2]"])
def test_loads_refuses_what_json_refuses(text):
    with pytest.raises(ValueError):
        json.loads(text)
    with pytest.raises(ValueError):
        jsonenc.loads(text)


def test_loads_does_not_import_json_on_the_happy_path():
    import subprocess
    import sys

    code = ("import sys; sys.path.insert(0, %r); from dockyard.core import jsonenc; "
            "jsonenc.loads('{\"a\": [1]}'); print('json' in sys.modules, 're' in sys.modules)") % SRC
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True).stdout
    assert out.split() == ["False", "False"]
