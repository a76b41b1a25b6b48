"""Restart policies (monitor/restart.py): Docker's parsing, rules and back-off."""

import pytest

from dockyard.monitor import restart


@pytest.mark.parametrize("text, want", [
    ("no", ("no", 0)), ("", ("no", 0)), ("always", ("always", 0)), ("unless-stopped", ("unless-stopped", 0)),
    ("on-failure", ("on-failure", 0)), ("on-failure:5", ("on-failure", 5)), ("on-failure:0", ("on-failure", 0)),
])
def test_parse(text, want):
    assert restart.parse(text) == want


@pytest.mark.parametrize("text, message", [
    (":3", "invalid restart policy format: no policy provided before colon"),
    ("on-failure:x", "invalid restart policy format: maximum retry count must be an integer"),
    ("on-failure:-1", "invalid restart policy: maximum retry count cannot be negative"),
    ("always:2", "invalid restart policy: maximum retry count can only be used with 'on-failure'"),
    ("no:-2", "invalid restart policy: maximum retry count can only be used with 'on-failure' and cannot be negative"),
    ("sometimes", "invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', "
                  "or 'unless-stopped'"),
])
def test_parse_refuses_like_docker(text, message):
    with pytest.raises(restart.PolicyError) as e:
        restart.parse(text)
    assert str(e.value) == message


def test_backoff_doubles_caps_and_resets():
    b = restart.Backoff()
    delays = [b.next(0.5) for _ in range(12)]
    assert delays[:5] == [0.1, 0.2, 0.4, 0.8, 1.6]
    assert max(delays) == restart.MAX_DELAY and delays[-1] == restart.MAX_DELAY
    assert b.next(10.0) == 0.1  # a run of 10 s starts the back-off over
    assert b.next(9.9) == 0.2


@pytest.mark.parametrize("name, retries, code, count, manual, want", [
    ("no", 0, 1, 0, False, False),
    ("always", 0, 0, 100, False, True),
    ("always", 0, 1, 0, True, False),
    ("unless-stopped", 0, 0, 0, False, True),
    ("unless-stopped", 0, 0, 0, True, False),
    ("on-failure", 0, 0, 0, False, False),
    ("on-failure", 0, 1, 1000, False, True),
    ("on-failure", 2, 1, 1, False, True),
    ("on-failure", 2, 1, 2, False, False),
    ("on-failure", 2, 1, 0, True, False),
])
def test_should_restart(name, retries, code, count, manual, want):
    assert restart.should_restart(name, retries, code, count, manual) is want


def test_what_comes_back_after_a_reboot():
    assert restart.revives_after_boot("always", manual_stop=True)
    assert restart.revives_after_boot("unless-stopped", manual_stop=False)
    assert not restart.revives_after_boot("unless-stopped", manual_stop=True)
    assert not restart.revives_after_boot("on-failure", manual_stop=False)
    assert not restart.revives_after_boot("no", manual_stop=False)
