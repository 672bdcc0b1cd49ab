"""An EC2 instance's power through the EC2 API (boto3): read, start, stop, wait. No Pulumi here.

`ops lab` and the power gates of an `up` both use it. boto3 reads credentials and `AWS_ENDPOINT_URL`
from the environment, as the AWS provider does (the tests point it at a local AWS emulator).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

LIVE_STATES = ["pending", "running", "stopping", "stopped", "shutting-down"]


class Ec2Error(Exception):
    """An EC2 call that failed, in one line (what was asked, and AWS's answer)."""


def client(region: str) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30)
    # A session of its own: credentials are read now, from this environment.
    return boto3.session.Session(region_name=region).client("ec2", config=config)


def call(ec2: Any, operation: str, **kwargs: Any) -> Any:
    """One EC2 call; every failure becomes an `Ec2Error` that says what to do."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

    try:
        return getattr(ec2, operation)(**kwargs)
    except NoCredentialsError:
        raise Ec2Error("no AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY") from None
    except NoRegionError:
        raise Ec2Error("no AWS region: set aws:region in the stack file") from None
    except ClientError as error:
        details = error.response.get("Error", {})
        raise Ec2Error(f"AWS refused {operation}: {details.get('Code')}: {details.get('Message')}") from None
    except BotoCoreError as error:
        raise Ec2Error(f"AWS call {operation} failed: {error}") from None


def state_of(ec2: Any, instance_id: str) -> str:
    """The instance's state name (`running`, `stopped`...)."""
    found = call(ec2, "describe_instances", InstanceIds=[instance_id])
    for reservation in found.get("Reservations", []):
        for item in reservation.get("Instances", []):
            return str(item["State"]["Name"])
    raise Ec2Error(f"no instance {instance_id}")


def wait_for(
    ec2: Any,
    instance_id: str,
    target: str,
    timeout: float,
    poll_seconds: float,
    progress: Callable[[str], None],
    label: str,
) -> str:
    """Polls until the instance is in `target`; `Ec2Error` naming the state it is stuck in otherwise."""
    started = time.monotonic()
    while True:
        state = state_of(ec2, instance_id)
        if state == target:
            return state
        elapsed = time.monotonic() - started
        if elapsed > timeout:
            raise Ec2Error(f"{label} is still {state} after {int(elapsed)} s (waiting for {target})")
        progress(f"waiting for {label} to be {target}: {state} ({int(elapsed)} s)")
        time.sleep(poll_seconds)


def start(
    ec2: Any, instance_id: str, timeout: float, poll_seconds: float, progress: Callable[[str], None], label: str
) -> None:
    """Starts the instance (after a stop in progress ends) and waits until it runs."""
    state = state_of(ec2, instance_id)
    if state == "stopping":
        wait_for(ec2, instance_id, "stopped", timeout, poll_seconds, progress, label)
    if state not in ("pending", "running"):
        call(ec2, "start_instances", InstanceIds=[instance_id])
    wait_for(ec2, instance_id, "running", timeout, poll_seconds, progress, label)


def stop(
    ec2: Any, instance_id: str, timeout: float, poll_seconds: float, progress: Callable[[str], None], label: str
) -> None:
    """Stops the instance (after a start in progress ends) and waits until it is stopped."""
    state = state_of(ec2, instance_id)
    if state == "pending":
        wait_for(ec2, instance_id, "running", timeout, poll_seconds, progress, label)
    if state not in ("stopping", "stopped"):
        call(ec2, "stop_instances", InstanceIds=[instance_id])
    wait_for(ec2, instance_id, "stopped", timeout, poll_seconds, progress, label)
