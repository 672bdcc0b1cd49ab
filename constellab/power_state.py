"""What a cloud server's power must be during and after an `up`, as pure decisions.

An `up` may find a lab stopped by its schedule, by its idle alarm, by hand, or parked. Docker on a
stopped server cannot be reached, so the server is woken before anything on it is deployed, and put
back afterwards as its declaration says at that moment:
- parked (`state: stopped`): stopped;
- a schedule: running inside a period, stopped outside it;
- an idle stop: either (the alarm stops it when idle), unless this `up` woke it, which it undoes;
- otherwise (hubs, the space, unscheduled labs): running.

A server is woken only when something on it is to be deployed (its deployment fingerprint changed)
or when it must run now: an `up` that changes nothing on a parked or sleeping lab leaves it asleep.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from typing import Literal

from constellab import schedule as schedule_math
from constellab.config import Schedule

Desired = Literal["running", "stopped", "any"]
Action = Literal["start", "stop"]
AWAKE = ("pending", "running")
"""EC2 states in which the server is up or coming up."""


def scheduled_to_run(lab_schedule: Schedule, now: dt.datetime) -> bool:
    """Whether `now` falls inside one of the schedule's running periods."""
    local_today = now.astimezone(dt.UTC).date()
    intervals = schedule_math.running_intervals(lab_schedule, local_today - dt.timedelta(days=1), 3)
    return any(interval.start <= now < interval.stop for interval in intervals)


def desired_state(
    declared: Literal["running", "stopped"], lab_schedule: Schedule | None, idle_stop: bool, now: dt.datetime
) -> Desired:
    """The state the declaration asks of the server at `now` ("any": its idle alarm decides)."""
    if declared == "stopped":
        return "stopped"
    if lab_schedule is not None and not scheduled_to_run(lab_schedule, now):
        return "stopped"
    return "any" if idle_stop else "running"


def wake_needed(actual: str, desired: Desired, deployment_changed: bool) -> bool:
    """Whether the server must be started before the deployment steps of this `up`."""
    return actual not in AWAKE and (deployment_changed or desired == "running")


def settle_action(actual: str, desired: Desired, woken_by_this_up: bool) -> Action | None:
    """What brings the server, once deployed, to its declared state (None: it is there)."""
    awake = actual in AWAKE
    if desired == "running":
        return None if awake else "start"
    if desired == "stopped" or woken_by_this_up:
        return "stop" if awake else None
    return None


def fingerprint(parts: Sequence[str]) -> str:
    """A digest of everything deployed on a server: it changes exactly when a deployment step would."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part.encode())
    return digest.hexdigest()
