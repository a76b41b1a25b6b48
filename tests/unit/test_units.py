"""Sizes and durations read and printed the way Docker does."""

import pytest

from dockyard.core.units import bytes_size, human_duration, human_size, parse_cpus, parse_size


@pytest.mark.parametrize("text,n", [("32m", 32 << 20), ("32M", 32 << 20), ("1g", 1 << 30),
                                    ("512kb", 512 << 10), ("1024", 1024), ("1.5g", 3 << 29),
                                    ("10b", 10)])
def test_parse_size(text, n):
    assert parse_size(text) == n


@pytest.mark.parametrize("bad", ["", "x", "1x", "-1m", "m", "1e3", "+5"])
def test_parse_size_rejects(bad):
    with pytest.raises(ValueError):
        parse_size(bad)


@pytest.mark.parametrize("n,text", [(0, "0B"), (862, "862B"), (1080, "1.08kB"), (4_264_000, "4.26MB"),
                                    (13_350, "13.3kB"), (999_999, "1MB"), (2_000_000_000, "2GB")])
def test_human_size(n, text):
    assert human_size(n) == text


def test_bytes_size():
    assert bytes_size(23.54 * (1 << 30)) == "23.54GiB"
    assert bytes_size(512) == "512B"


@pytest.mark.parametrize("s,text", [(0.2, "Less than a second"), (1, "1 second"), (5, "5 seconds"),
                                    (61, "About a minute"), (180, "3 minutes"), (3600, "About an hour"),
                                    (7200, "2 hours"), (3 * 86400, "3 days"), (20 * 86400, "2 weeks"),
                                    (90 * 86400, "3 months"), (800 * 86400, "2 years")])
def test_human_duration(s, text):
    assert human_duration(s) == text


def test_parse_cpus():
    assert parse_cpus("0.5") == 500_000_000
    with pytest.raises(ValueError):
        parse_cpus("half")
