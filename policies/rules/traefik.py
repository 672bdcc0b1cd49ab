"""Traefik: no insecure API, and the Docker provider exposes nothing by default."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml
from pulumi_policy import ReportViolation, ResourceValidationArgs

from .common import Rule, as_list, dig, report

CONTAINER = "docker:index/container:Container"
STATIC_FILES = ("/etc/traefik/traefik.yml", "/etc/traefik/traefik.yaml")
# libyaml when PyYAML has it: the rules read every proxy's static file back, on every preview.
_SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _static_config(props: Mapping[str, Any]) -> dict[str, Any] | None:
    for upload in as_list(props.get("uploads")):
        if isinstance(upload, dict) and upload.get("file") in STATIC_FILES:
            try:
                loaded = yaml.load(str(upload.get("content") or ""), Loader=_SAFE_LOADER)
            except yaml.YAMLError:
                return None
            return loaded if isinstance(loaded, dict) else None
    return None


def _flags(props: Mapping[str, Any]) -> dict[str, str]:
    flags = {}
    for argument in as_list(props.get("command")):
        key, _, value = str(argument).partition("=")
        flags[key.lower()] = value.lower() or "true"
    return flags


def _is_traefik(props: Mapping[str, Any]) -> bool:
    return props.get("name") == "traefik" or _static_config(props) is not None


def api_not_insecure(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != CONTAINER or not _is_traefik(args.props):
        return
    insecure = dig(_static_config(args.props), "api", "insecure") is True
    insecure |= _flags(args.props).get("--api.insecure") == "true"
    if insecure:
        report(
            report_violation,
            args.name,
            args.resource_type,
            "the API and dashboard answer without authentication",
            "set api.insecure to false",
        )


def docker_not_exposed_by_default(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != CONTAINER or not _is_traefik(args.props):
        return
    static = _static_config(args.props) or {}
    flags = _flags(args.props)
    uses_docker = dig(static, "providers", "docker") is not None or "--providers.docker" in flags
    exposed = dig(static, "providers", "docker", "exposedByDefault", default=True) is not False
    if "--providers.docker.exposedbydefault" in flags:
        exposed = flags["--providers.docker.exposedbydefault"] != "false"
    if uses_docker and exposed:
        report(
            report_violation,
            args.name,
            args.resource_type,
            "every container is routed unless labelled otherwise",
            "set providers.docker.exposedByDefault to false",
        )


RULES = [
    Rule(
        "traefik-api-not-insecure",
        "Traefik's API and dashboard are never served insecurely",
        "mandatory",
        api_not_insecure,
    ),
    Rule(
        "traefik-docker-not-exposed-by-default",
        "Traefik's Docker provider exposes nothing by default",
        "mandatory",
        docker_not_exposed_by_default,
    ),
]
