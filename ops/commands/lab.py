"""`ops lab`: show, start or stop a cloud lab's instance (AWS credentials needed)."""

from __future__ import annotations

import argparse

from ops import common

NAME = "lab"
HELP = "status, start or stop a cloud lab (AWS credentials needed)"
DESCRIPTION = (
    "Show, start or stop a cloud server's instance, found by its constellab:stack and "
    "constellab:server tags. Hubs and the space are never stopped. Starting a running lab or stopping a "
    "stopped one says so and exits 0."
)

EXAMPLES = (
    "./run ops lab status lab1 --stack acme-cloud",
    "./run ops lab start lab1 --stack acme-cloud --wait",
    "./run ops lab stop lab1 --stack acme-cloud --json",
)


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("status", "start", "stop"), help="what to do")
    parser.add_argument("server", metavar="<server>", help="the lab's name in the stack file")
    parser.add_argument("--stack", required=True, metavar="<stack>", help="the stack the lab belongs to")
    parser.add_argument("--wait", action="store_true", help="return once the instance is running (or stopped)")
    parser.add_argument("--no-health", action="store_true", help="with start --wait: do not wait for the lab manager")
    parser.add_argument("--health-url", metavar="<url>", help="health check to wait for (default: the lab manager's)")
    parser.add_argument(
        "--timeout", type=common.positive_seconds, default=900, metavar="<seconds>", help="how long to wait (900)"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output, errors included")


def run(args: argparse.Namespace) -> int:
    from ops.lab import LabCommandError, LabControl, as_json, render_status

    settings, _ = common.stack_and_server(args.stack, args.server)
    if args.health_url is not None:
        if args.action != "start" or not args.wait or args.no_health:
            raise common.UsageError("--health-url is used by `start --wait` only (without --no-health)")
        if not common.is_web_address(args.health_url):
            raise common.UsageError(
                f"--health-url {args.health_url!r}: give an http(s) URL, e.g. https://lab-manager.<host>/health-check"
            )
    try:
        control = LabControl(args.stack, settings.platform, args.server, settings.aws_region or "")
        if args.action == "status":
            report = control.status()
            print(as_json(report) if args.json else render_status(report))
        elif args.action == "start":
            result = control.start(args.wait, not args.no_health, args.health_url, args.timeout)
            print(as_json(result) if args.json else result["message"])
        else:
            result = control.stop(args.wait, args.timeout)
            print(as_json(result) if args.json else result["message"])
    except LabCommandError as error:
        raise common.CommandError(str(error)) from None
    return 0
