"""One run of the lab manager client's flow: the health wait, the configuration and init calls, the wait until up."""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable, Mapping
from typing import Any, TextIO

from constellab.lab_manager.answers import Answer, LabStatus, server_message
from constellab.lab_manager.https import Endpoint, NotSentError, SniConnection, tls_context
from constellab.lab_manager.request import LabManagerError, LabManagerRequest
from constellab.lab_manager.wording import excerpt, in_seconds, in_words, redact

REQUEST_TIMEOUT_SECONDS = 30.0
"""Timeout of one HTTP request (connect, send, answer)."""

_MAX_ANSWER_BYTES = 1_000_000


class Session:
    """One run of the flow against one endpoint."""

    def __init__(
        self, request: LabManagerRequest, out: TextIO, clock: Callable[[], float], sleep: Callable[[float], None]
    ) -> None:
        self.request = request
        self.out = out
        self.clock = clock
        self.sleep = sleep
        self.secrets = request.secrets()
        self.context = tls_context(request.verify, request.ca)
        self.endpoint = Endpoint("127.0.0.1", 0)
        self.task_running_seen = False
        """A task was seen running since init-all: only its failure, not an earlier run's, ends the wait."""

    def say(self, message: str) -> None:
        print(f"{self.request.lab}: {redact(message, self.secrets)}", file=self.out, flush=True)

    def fail(self, message: str) -> LabManagerError:
        return LabManagerError(f"lab {self.request.lab}: {message}")

    def run(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.wait_healthy()
        # A new lab_manager container starts the lab by itself (AUTO_START_LAB), and the lab manager
        # refuses an init while a task runs: let it finish first.
        deadline = self.clock() + self.request.up_timeout_seconds
        self.wait_no_task(deadline)
        self.call("PUT", "/lab/config", self.request.config)
        self.say("configuration sent (PUT /lab/config)")
        while True:
            answer = self.call("POST", "/lab/init-all", self.request.init, busy_ok=True)
            if answer is None:
                break
            self.say(f"init-all refused while a task runs ({answer.describe()}): trying again")
            if not self.pause(deadline):
                raise self.refused("POST", f"{self.request.base_url}/lab/init-all", answer)
        self.say("init-all accepted")
        self.wait_up()

    def wait_no_task(self, deadline: float) -> None:
        """Until the lab manager runs no task (or the status cannot tell); bounded by `deadline`."""
        while True:
            seen = self.poll_status(deadline, since_init=False)
            if not isinstance(seen, LabStatus) or seen.task_status != "RUNNING":
                return
            self.say(f"waiting for the lab manager's task '{seen.task_name or '?'}' to finish")
            if not self.pause(deadline):
                raise self.fail(f"the lab manager's task '{seen.task_name or '?'}' did not finish: {seen.describe()}")

    def send(self, method: str, path: str, body: Mapping[str, Any] | None, authorized: bool, timeout: float) -> Answer:
        """One request; `NotSentError` when no answer came (connection, TLS or protocol error)."""
        self.endpoint.check()
        headers = {"Host": self.request.manager_host, "Accept": "application/json", "Connection": "close"}
        if authorized:
            headers["Authorization"] = f"api-key {self.request.api_key}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        connection = SniConnection(
            self.endpoint.address, self.endpoint.port, self.request.manager_host, self.context, timeout
        )
        try:
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            return Answer(response.status, response.reason, response.read(_MAX_ANSWER_BYTES))
        except (OSError, http.client.HTTPException) as error:
            self.endpoint.check()
            raise NotSentError(in_words(error)) from None
        finally:
            connection.close()

    def remaining(self, deadline: float) -> float:
        return min(REQUEST_TIMEOUT_SECONDS, max(1.0, deadline - self.clock()))

    def pause(self, deadline: float) -> bool:
        """Sleeps one poll interval, or returns False when the deadline has passed."""
        left = deadline - self.clock()
        if left <= 0:
            return False
        self.sleep(min(self.request.poll_seconds, left))
        return True

    def wait_healthy(self) -> None:
        timeout = self.request.health_timeout_seconds
        deadline = self.clock() + timeout
        self.say(f"waiting for the lab manager at {self.request.base_url}")
        last = "no answer yet"
        while True:
            try:
                answer = self.send("GET", "/health-check", None, False, self.remaining(deadline))
            except NotSentError as error:
                seen = str(error)
            else:
                if answer.status == 200 and answer.body.strip() == b"true":
                    self.say("lab manager healthy")
                    return
                seen = answer.describe() if answer.status != 200 else f"HTTP 200 with body {excerpt(answer.body)}"
            if seen != last:
                self.say(f"lab manager not ready yet: {seen}")
                last = seen
            if not self.pause(deadline):
                raise self.fail(
                    f"the lab manager at {self.request.base_url} did not answer /health-check "
                    f"within {in_seconds(timeout)} s (last: {last}){_hint(last)}"
                )

    def call(self, method: str, path: str, body: Mapping[str, Any], busy_ok: bool = False) -> Answer | None:
        """Sends one call; fails on any refusal, but returns a 400 that says a task is running (`busy_ok`)."""
        url = f"{self.request.base_url}{path}"
        try:
            answer = self.send(method, path, body, True, REQUEST_TIMEOUT_SECONDS)
        except NotSentError as error:
            raise self.fail(f"{method} {url} could not be sent: {error}") from None
        if answer.ok:
            return None
        if busy_ok and answer.status == 400 and "running" in server_message(answer.body).lower():
            return answer
        raise self.refused(method, url, answer)

    def refused(self, method: str, url: str, answer: Answer) -> LabManagerError:
        if answer.status in (401, 403):
            return self.fail(
                f"{method} {url} was refused: {answer.describe()} — check the lab manager API key of {self.request.lab}"
            )
        return self.fail(f"{method} {url} failed: {answer.describe()}")

    def wait_up(self) -> None:
        """Until the lab is up with *this* configuration.

        init-all answers at once and works in the background, so a lab that was already running still
        reports UP at first. Up counts only once this init shows: its task running, or the lab not up
        for a while, or else once the lab has stayed up for `SETTLE_SECONDS` (the init's own start
        alone takes 10 s); and never while the lab manager says the configuration awaits a restart.
        """
        timeout = self.request.up_timeout_seconds
        started = self.clock()
        deadline = started + timeout
        last = "no status yet"
        progressed = False
        while True:
            seen = self.poll_status(deadline)
            if isinstance(seen, LabStatus):
                progressed |= not seen.is_up or seen.task_status == "RUNNING"
                settled = self.clock() - started >= self.request.settle_seconds
                finished = seen.task_status != "RUNNING"
                if seen.is_up and finished and seen.needs_restart is not True and (progressed or settled):
                    self.say(seen.describe(details=False))
                    return
                seen = seen.describe() + (
                    ", configuration not applied yet (needsRestart)" if seen.needs_restart else ""
                )
            if seen != last:
                self.say(seen)
                last = seen
            if not self.pause(deadline):
                raise self.fail(f"not up after {in_seconds(timeout)} s: {last}")

    def poll_status(self, deadline: float, since_init: bool = True) -> LabStatus | str:
        """The lab's status, or in words why there is none this time; fails on a refused key or a failed task."""
        try:
            answer = self.send("GET", "/lab/status", None, True, self.remaining(deadline))
        except NotSentError as error:
            return f"no answer from /lab/status ({error})"
        if answer.status in (401, 403):
            raise self.refused("GET", f"{self.request.base_url}/lab/status", answer)
        if not answer.ok:
            return f"/lab/status answered {answer.describe()}"
        try:
            value = json.loads(answer.body)
        except ValueError:
            value = None
        if not isinstance(value, Mapping):
            return f"/lab/status answered {excerpt(answer.body)}, not a JSON object"
        status = LabStatus.from_json(value)
        if not since_init:
            return status
        self.task_running_seen |= status.task_status == "RUNNING"
        if status.task_failed and self.task_running_seen:
            raise self.fail(
                f"the lab manager's task '{status.task_name or '?'}' failed: {status.task_info or 'no details given'}"
            )
        return status


def _hint(last: str) -> str:
    """What to look at, for the failures a first deployment meets."""
    if last.startswith("TLS error"):
        return (
            ": no valid certificate for the lab manager yet, check the reverse_proxy's logs "
            "(the DNS-01 challenge: its token or endpoint) and that the DNS records point at the server"
        )
    if "did not open" in last or "connection refused" in last:
        return ": is the server running (a stopped lab: `./run ops lab start`) and its proxy up?"
    return ""
