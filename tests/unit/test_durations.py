"""Go durations and Docker's --since/--until values (core/durations.py)."""

import calendar
import time

import pytest

from dockyard.core.durations import format_duration, parse_duration, parse_timestamp

S = 1_000_000_000


@pytest.mark.parametrize("text, ns", [
    ("0", 0), ("1s", S), ("500ms", S // 2), ("1m30s", 90 * S), ("1h30m", 5400 * S),
    ("1.5s", 3 * S // 2), ("2h", 7200 * S), ("100us", 100_000), ("100µs", 100_000), ("7ns", 7),
    (".5s", S // 2), ("-1s", -S), ("+3m", 180 * S), ("1h2m3s4ms", 3723 * S + 4_000_000),
])
def test_parse(text, ns):
    assert parse_duration(text) == ns


@pytest.mark.parametrize("text, msg", [
    ("", 'time: invalid duration ""'), ("x", 'time: invalid duration "x"'),
    ("10", 'time: missing unit in duration "10"'), ("3d", 'time: unknown unit "d" in duration "3d"'),
    (".s", 'time: invalid duration ".s"'), ("1s-", 'time: unknown unit "s-" in duration "1s-"'),
])
def test_parse_errors(text, msg):
    with pytest.raises(ValueError) as e:
        parse_duration(text)
    assert str(e.value) == msg


@pytest.mark.parametrize("ns, text", [
    (0, "0s"), (30 * S, "30s"), (200_000_000, "200ms"), (90 * S, "1m30s"), (3600 * S, "1h0m0s"),
    (1_500_000_000, "1.5s"), (1500, "1.5µs"), (5, "5ns"), (-S, "-1s"), (3723 * S + S // 4, "1h2m3.25s"),
])
def test_format_is_go_duration_string(ns, text):
    assert format_duration(ns) == text


NOW = 1_700_000_000 * S


@pytest.mark.parametrize("value, expected", [
    ("10m", NOW - 600 * S), ("1h30m", NOW - 5400 * S),
    ("1700000000", 1_700_000_000 * S), ("1700000000.5", 1_700_000_000 * S + S // 2), ("0", 0),
    ("2023-11-14T22:13:20Z", 1_700_000_000 * S), ("2023-11-14T22:13:20.25Z", 1_700_000_000 * S + S // 4),
    ("2023-11-14T23:13:20+01:00", 1_700_000_000 * S), ("2023-11-14T22:13Z", 1_699_999_980 * S),
])
def test_timestamps(value, expected):
    assert parse_timestamp(value, NOW) == expected


def test_timestamp_without_zone_is_local_time():
    want = int(time.mktime(time.strptime("2023-11-14T22:13:20", "%Y-%m-%dT%H:%M:%S"))) * S
    assert parse_timestamp("2023-11-14T22:13:20", NOW) == want
    day = int(time.mktime(time.strptime("2023-11-14", "%Y-%m-%d"))) * S
    assert parse_timestamp("2023-11-14", NOW) == day
    assert calendar.timegm(time.gmtime(0)) == 0


@pytest.mark.parametrize("value", ["yesterday", "2023-13-45", "12:00", "1.2.3"])
def test_bad_timestamps(value):
    with pytest.raises(ValueError):
        parse_timestamp(value, NOW)
