"""Docker's event filters, times and output shapes (services/events.py)."""

import calendar
import time

import pytest

from dockyard.errors import InvalidArgument
from dockyard.services import events as ev
from dockyard.store.events import Event

CID = "0123456789abcdef" * 4
NOW = 1_800_000_000 * 10**9


def _ev(type="container", action="create", actor=CID, **attrs):
    return Event(1, NOW + 123, type, action, actor, {"image": "busybox", "name": "web", **attrs} if type == "container"
                 else attrs)


@pytest.mark.parametrize("filters,match", [
    ({}, True),
    ({"type": ["container"]}, True),
    ({"type": ["image"]}, False),
    ({"event": ["create", "start"]}, True),
    ({"event": ["die"]}, False),
    ({"container": ["web"]}, True),
    ({"container": [CID[:8]]}, True),
    ({"container": ["other"]}, False),
    ({"image": ["busybox"]}, True),
    ({"image": ["alpine"]}, False),
    ({"label": ["tier"]}, True),
    ({"label": ["tier=web"]}, True),
    ({"label": ["tier=web", "team"]}, False),  # label values are AND-ed
    ({"event": ["create"], "container": ["web"], "type": ["container"]}, True),
])
def test_filters(filters, match):
    assert ev.matches(_ev(tier="web"), filters) is match


def test_health_status_event_is_matched_by_prefix():
    assert ev.matches(_ev(action="health_status: healthy"), {"event": ["health_status"]})
    assert not ev.matches(_ev(action="health_status: healthy"), {"event": ["health"]})


def test_image_filter_on_image_events():
    e = _ev(type="image", action="pull", actor="busybox:latest", name="busybox")
    assert ev.matches(e, {"image": ["busybox"]}) and ev.matches(e, {"image": ["busybox:latest"]})


def test_parse_filters_and_check():
    assert ev.parse_filters(["type=container", "event=die", "event=die", "label=a=b"]) == \
        {"type": ["container"], "event": ["die"], "label": ["a=b"]}
    with pytest.raises(InvalidArgument):
        ev.parse_filters(["nonsense"])
    with pytest.raises(InvalidArgument) as e:
        ev.check_filters({"colour": ["red"]})
    assert e.value.message == "invalid filter 'colour'" and e.value.status == 1


def test_parse_time():
    assert ev.parse_time("10m", NOW) == NOW - 600 * 10**9
    assert ev.parse_time("1h30m", NOW) == NOW - 5400 * 10**9
    assert ev.parse_time("1700000000", NOW) == 1_700_000_000 * 10**9
    assert ev.parse_time("1700000000.5", NOW) == 1_700_000_000_500_000_000
    assert ev.parse_time("2026-11-28T10:00:00Z") == calendar.timegm((2026, 11, 28, 10, 0, 0)) * 10**9
    assert ev.parse_time("2026-11-28T10:00:00.25+01:00") == (calendar.timegm((2026, 11, 28, 9, 0, 0)) * 10**9
                                                             + 250_000_000)
    assert ev.parse_time("2026-11-28") == int(time.mktime((2026, 11, 28, 0, 0, 0, 0, 0, -1))) * 10**9
    with pytest.raises(InvalidArgument):
        ev.parse_time("yesterday")


def test_message_and_pretty():
    e = _ev(action="die", exitCode="0")
    m = ev.message(e)
    assert list(m) == ["status", "id", "from", "Type", "Action", "Actor", "scope", "time", "timeNano"]
    assert m["Actor"] == {"ID": CID, "Attributes": {"exitCode": "0", "image": "busybox", "name": "web"}}
    assert (m["from"], m["scope"], m["time"], m["timeNano"]) == ("busybox", "local", NOW // 10**9, NOW + 123)
    line = ev.pretty(e)
    assert line.endswith(f" container die {CID} (exitCode=0, image=busybox, name=web)")
    assert line[:30].count(".") == 1 and len(line.split(" ")[0]) in (30, 35)
