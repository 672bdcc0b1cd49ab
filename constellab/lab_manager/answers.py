"""What the lab manager answers: an HTTP answer, the message of an error body, and the lab's status."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from constellab.lab_manager.wording import one_line


@dataclass(frozen=True)
class LabStatus:
    """The relevant part of a `GET /lab/status` answer."""

    containers: str
    """`containersStatus.status`: STOP, DOWN, UP, PARTIALLY_UP or ERROR (`?` when absent)."""
    containers_info: str | None = None
    lab: str | None = None
    """`labStatus` (STOPPED, RUNNING, STARTING, ERROR); absent in older lab managers."""
    task_name: str | None = None
    task_status: str | None = None
    task_info: str | None = None
    needs_restart: bool | None = None
    """`needsRestart`: set by `PUT /lab/config`, cleared when init-all has applied it (newer lab managers)."""

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> LabStatus:
        containers = value.get("containersStatus")
        if isinstance(containers, Mapping):
            status, info = _text(containers.get("status")), _text(containers.get("info"))
        else:
            status, info = _text(containers), None
        task = value.get("currentTask")
        task_fields = (
            (_text(task.get("name")), _text(task.get("status")), _text(task.get("info")))
            if isinstance(task, Mapping)
            else (None, None, None)
        )
        needs_restart = value.get("needsRestart")
        return cls(
            status or "?",
            info,
            _text(value.get("labStatus")),
            *task_fields,
            needs_restart=needs_restart if isinstance(needs_restart, bool) else None,
        )

    @property
    def is_up(self) -> bool:
        """Containers UP and the lab RUNNING (older lab managers report no lab status: containers UP is enough)."""
        return self.containers == "UP" and self.lab in (None, "RUNNING")

    @property
    def task_failed(self) -> bool:
        return self.task_status == "ERROR"

    def describe(self, details: bool = True) -> str:
        """E.g. `containers PARTIALLY_UP (Containers are partially up), lab STARTING, task 'start' RUNNING`."""
        words = f"containers {self.containers}"
        if details and self.containers_info:
            words += f" ({self.containers_info})"
        if self.lab is not None:
            words += f", lab {self.lab}"
        if details and (self.task_name is not None or self.task_status is not None):
            words += f", task '{self.task_name or '?'}' {self.task_status or '?'}"
        return words


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: status, reason phrase and body."""

    status: int
    reason: str
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def describe(self) -> str:
        """`HTTP 403: Forbidden resource`: the status and the server's message."""
        return f"HTTP {self.status}: {server_message(self.body) or self.reason or 'no message'}"


def server_message(body: bytes) -> str:
    """The human message of an error body: `detail` (newest), else `message` (NestJS), else the raw body."""
    text = body.decode("utf-8", errors="replace")
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    message: str | None = None
    if isinstance(value, Mapping):
        detail, nest = value.get("detail"), value.get("message")
        if isinstance(detail, str) and detail.strip():
            message = detail
        elif isinstance(nest, str) and nest.strip():
            message = nest
        elif isinstance(nest, list) and nest:
            message = "; ".join(str(item) for item in nest)
    if message is None:
        message = text.strip()[:200]
    return one_line(message)


def _text(value: Any) -> str | None:
    return None if value is None else one_line(str(value))
