"""Restart policies: Docker's `--restart no|on-failure[:N]|always|unless-stopped`.

The monitor owns them (there is no daemon): when the container's process exits it
asks `decide` whether to start it again and how long to wait first. The rules are
Docker's restart manager's:

- a container stopped by the user (`stop`, `kill`: containers.manual_stop) is never
  restarted by its policy, whatever the policy;
- `always` restarts on any exit, `unless-stopped` likewise, `on-failure` on a
  non-zero exit while the restarts so far are fewer than N (0: no limit);
- the delay starts at 100 ms and doubles with each restart, up to one minute; it
  starts over at 100 ms when the process had run for 10 seconds or more.

After a reboot `always` containers, and `unless-stopped` ones the user did not stop,
come back when a dockyard command first runs (services/revive.py).
"""

from __future__ import annotations

NO, ALWAYS, ON_FAILURE, UNLESS_STOPPED = "no", "always", "on-failure", "unless-stopped"
POLICIES = (NO, ALWAYS, ON_FAILURE, UNLESS_STOPPED)

INITIAL_DELAY = 0.1  # seconds
MAX_DELAY = 60.0
RESET_AFTER = 10.0  # a run this long starts the back-off over


class PolicyError(ValueError):
    pass


def parse(text: str) -> tuple[str, int]:
    """`on-failure:3` -> ("on-failure", 3), validated as Docker validates it.
    Raises PolicyError with Docker's message."""
    name, colon, count = (text or "").partition(":")
    if colon and not name:
        raise PolicyError("invalid restart policy format: no policy provided before colon")
    retries = 0
    if count:
        try:
            retries = int(count, 10)
        except ValueError:
            raise PolicyError("invalid restart policy format: maximum retry count must be an integer") from None
    if not name:
        name = NO
    return validate(name, retries)


def validate(name: str, retries: int) -> tuple[str, int]:
    if name in (ALWAYS, UNLESS_STOPPED, NO):
        if retries != 0:
            msg = "invalid restart policy: maximum retry count can only be used with 'on-failure'"
            if retries < 0:
                msg += " and cannot be negative"
            raise PolicyError(msg)
    elif name == ON_FAILURE:
        if retries < 0:
            raise PolicyError("invalid restart policy: maximum retry count cannot be negative")
    else:
        raise PolicyError(f"invalid restart policy: unknown policy '{name}'; use one of "
                          f"'{NO}', '{ALWAYS}', '{ON_FAILURE}', or '{UNLESS_STOPPED}'")
    return name, retries


class Backoff:
    """The delay before the next restart, as Docker's restart manager grows it."""

    __slots__ = ("delay",)

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay

    def next(self, ran_for: float) -> float:
        if ran_for >= RESET_AFTER:
            self.delay = 0.0
        if self.delay == 0.0:
            self.delay = INITIAL_DELAY
        elif self.delay < MAX_DELAY:
            self.delay *= 2
        self.delay = min(self.delay, MAX_DELAY)
        return self.delay


def should_restart(name: str, retries: int, exit_code: int, restart_count: int, manual_stop: bool) -> bool:
    """Whether a process that exited with `exit_code` starts again."""
    if manual_stop:
        return False
    if name in (ALWAYS, UNLESS_STOPPED):
        return True
    if name == ON_FAILURE:
        return exit_code != 0 and (retries == 0 or restart_count < retries)
    return False


def revives_after_boot(name: str, manual_stop: bool) -> bool:
    """Docker brings `always` containers back when the daemon starts, even ones the
    user stopped; `unless-stopped` ones only when the user did not stop them."""
    return name == ALWAYS or (name == UNLESS_STOPPED and not manual_stop)
