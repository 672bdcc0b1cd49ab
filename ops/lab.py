"""`ops lab status|start|stop`: a cloud lab's power, by hand, through the EC2 API (boto3).

The instance is found by the tags every cloud server carries (`constellab:stack`,
`constellab:server`). boto3 honours `AWS_ENDPOINT_URL`, which is how the tests point it at a local
AWS emulator.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from constellab import naming, schedule
from constellab.aws import ec2_power
from constellab.config import CloudPlacement, Lab, PlatformConfig
from constellab.naming import TAG_SERVER, TAG_STACK


class LabCommandError(Exception):
    """A failure reported in one line with a non-zero exit."""


@dataclass
class Instance:
    """A server's EC2 instance as found by its tags."""

    id: str
    state: str


class LabControl:
    """Finds one server's instance and changes its power state."""

    def __init__(
        self,
        stack: str,
        platform: PlatformConfig,
        server_name: str,
        region: str,
        progress: Callable[[str], None] | None = None,
        poll_seconds: float | None = None,
    ) -> None:
        servers = {server.name: server for _, server in platform.servers()}
        if server_name not in servers:
            raise KeyError(server_name)
        self.stack = stack
        self.platform = platform
        self.server = servers[server_name]
        if not isinstance(self.server.placement, CloudPlacement):
            raise LabCommandError(
                f"{server_name} is {self.server.placement.kind}: only cloud servers are started and stopped here"
            )
        self.region = region
        self.progress = progress or (lambda message: print(message, file=sys.stderr, flush=True))
        self.poll_seconds = (
            poll_seconds if poll_seconds is not None else float(os.environ.get("CONSTELLAB_POLL_SECONDS", 5))
        )
        self._client: Any = None

    @property
    def role(self) -> str:
        return naming.role_of(self.server)

    def client(self) -> Any:
        if self._client is None:
            self._client = ec2_power.client(self.region)
        return self._client

    def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return ec2_power.call(self.client(), operation, **kwargs)
        except ec2_power.Ec2Error as error:
            raise LabCommandError(str(error)) from None

    def find(self) -> Instance:
        filters = [
            {"Name": f"tag:{TAG_STACK}", "Values": [self.stack]},
            {"Name": f"tag:{TAG_SERVER}", "Values": [self.server.name]},
            {"Name": "instance-state-name", "Values": ec2_power.LIVE_STATES},
        ]
        found = [
            Instance(item["InstanceId"], item["State"]["Name"])
            for page in [self._call("describe_instances", Filters=filters)]
            for reservation in page.get("Reservations", [])
            for item in reservation.get("Instances", [])
        ]
        tags = f"{TAG_STACK}={self.stack}, {TAG_SERVER}={self.server.name}"
        if not found:
            raise LabCommandError(f"no instance tagged {tags} in {self.region}: is the stack deployed?")
        if len(found) > 1:
            ids = ", ".join(sorted(instance.id for instance in found))
            raise LabCommandError(f"{len(found)} instances tagged {tags} ({ids}): expected exactly one")
        return found[0]

    def wait_for(self, target: str, timeout: float) -> Instance:
        started = time.monotonic()
        while True:
            instance = self.find()
            if instance.state == target:
                return instance
            elapsed = time.monotonic() - started
            if elapsed > timeout:
                raise LabCommandError(f"{self.server.name} is still {instance.state} after {int(elapsed)} s")
            self.progress(f"waiting for {self.server.name} to be {target}: {instance.state} ({int(elapsed)} s)")
            time.sleep(self.poll_seconds)

    def health_url(self) -> str:
        return f"https://lab-manager.{naming.server_host(self.server.name, self.platform.base_domain)}/health-check"

    def wait_for_health(self, url: str, timeout: float) -> None:
        started = time.monotonic()
        while True:
            elapsed = time.monotonic() - started
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        return
                    status = str(response.status)
            except urllib.error.HTTPError as error:
                status = str(error.code)
            except (urllib.error.URLError, OSError) as error:
                status = str(getattr(error, "reason", error))
            if elapsed > timeout:
                raise LabCommandError(f"{url} did not answer 200 within {int(elapsed)} s (last: {status})")
            self.progress(f"waiting for the lab manager at {url}: {status} ({int(elapsed)} s)")
            time.sleep(self.poll_seconds)

    def start(self, wait: bool, health: bool, health_url: str | None, timeout: float) -> dict[str, Any]:
        instance = self.find()
        if instance.state in ("running", "pending"):
            message = f"{self.server.name} is already {instance.state} ({instance.id})"
        else:
            if instance.state == "stopping":
                self.wait_for("stopped", timeout)
            self._call("start_instances", InstanceIds=[instance.id])
            message = f"{self.server.name} is starting ({instance.id})"
        if wait:
            instance = self.wait_for("running", timeout)
            message = f"{self.server.name} is running ({instance.id})"
            if health:
                self.wait_for_health(health_url or self.health_url(), timeout)
                message += ", lab manager healthy"
        return {"server": self.server.name, "instanceId": instance.id, "message": message}

    def stop(self, wait: bool, timeout: float) -> dict[str, Any]:
        if self.role != "lab":
            raise LabCommandError(
                f"{self.server.name} is a {self.role}: hubs and the space are always on, stopping is refused"
            )
        instance = self.find()
        if instance.state in ("stopped", "stopping"):
            message = f"{self.server.name} is already {instance.state} ({instance.id})"
        else:
            self._call("stop_instances", InstanceIds=[instance.id])
            message = f"{self.server.name} is stopping ({instance.id})"
        if wait:
            instance = self.wait_for("stopped", timeout)
            message = f"{self.server.name} is stopped ({instance.id})"
        return {"server": self.server.name, "instanceId": instance.id, "message": message}

    def status(self, now: dt.datetime | None = None) -> dict[str, Any]:
        instance = self.find()
        report: dict[str, Any] = {
            "server": self.server.name,
            "role": self.role,
            "instanceId": instance.id,
            "state": instance.state,
        }
        lab_schedule = self.server.schedule if isinstance(self.server, Lab) else None
        if isinstance(self.server, Lab):
            report["declaredState"] = self.server.state
        if lab_schedule is not None:
            now = now or dt.datetime.now(dt.UTC)
            upcoming = schedule.next_transitions(lab_schedule, now)
            usage = schedule.weekly_usage(lab_schedule, schedule.week_start_of(now.date()))
            parked = isinstance(self.server, Lab) and self.server.state == "stopped"
            report |= {
                "timezone": lab_schedule.timezone,
                "nextStart": None if parked or upcoming.start is None else upcoming.start.isoformat(),
                "nextStop": None if parked or upcoming.stop is None else upcoming.stop.isoformat(),
                "weeklyRunningHours": usage.running_hours,
                "savingPercent": usage.saving_percent,
            }
        return report


def render_status(report: dict[str, Any]) -> str:
    lines = [f"{report['server']} ({report['role']}): {report['state']}  [{report['instanceId']}]"]
    if "timezone" in report:
        lines.append(f"  next start: {report['nextStart'] or 'none (parked)'}")
        lines.append(f"  next stop:  {report['nextStop'] or 'none (parked)'}")
        lines.append(
            f"  this week:  {report['weeklyRunningHours']} h scheduled, {report['savingPercent']}% less than always-on"
        )
    elif report["role"] == "lab":
        lines.append("  no schedule: runs until stopped")
    else:
        lines.append("  always on")
    return "\n".join(lines)


def as_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=True)
