"""Traefik: no insecure API, the Docker provider exposes nothing by default, and the hardening sits where it
reaches routers we never write (the entry point's middlewares, the default TLS options)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml
from pulumi_policy import ReportViolation, ResourceValidationArgs

from .common import Rule, as_list, dig, report

CONTAINER = "docker:index/container:Container"
STATIC_FILES = ("/etc/traefik/traefik.yml", "/etc/traefik/traefik.yaml")
DYNAMIC_DIR = "/etc/traefik/dynamic/"
TLS_VERSIONS = ("VersionTLS10", "VersionTLS11", "VersionTLS12", "VersionTLS13")
# libyaml when PyYAML has it: the rules read every proxy's static file back, on every preview.
_SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _uploaded(props: Mapping[str, Any], wanted: Any) -> list[dict[str, Any]]:
    """The YAML documents of the uploads whose path satisfies `wanted`."""
    found = []
    for upload in as_list(props.get("uploads")):
        if isinstance(upload, dict) and wanted(str(upload.get("file", ""))):
            try:
                loaded = yaml.load(str(upload.get("content") or ""), Loader=_SAFE_LOADER)
            except yaml.YAMLError:
                continue
            if isinstance(loaded, dict):
                found.append(loaded)
    return found


def _static_config(props: Mapping[str, Any]) -> dict[str, Any] | None:
    found = _uploaded(props, lambda path: path in STATIC_FILES)
    return found[0] if found else None


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


def hardening_reaches_every_router(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != CONTAINER:
        return
    static = _static_config(args.props)
    if static is None:
        return
    problems = []
    middlewares = [str(m) for m in as_list(dig(static, "entryPoints", "websecure", "http", "middlewares"))]
    if not any(m.split("@", 1)[0] == "security-headers" for m in middlewares):
        problems.append("the websecure entry point applies no security headers")
    dynamic = _uploaded(args.props, lambda path: path.startswith(DYNAMIC_DIR))
    minimum = next((dig(d, "tls", "options", "default", "minVersion") for d in dynamic if dig(d, "tls")), None)
    if minimum not in TLS_VERSIONS[2:]:
        problems.append(f"the default TLS options allow {minimum or 'any version'}")
    for problem in problems:
        report(
            report_violation,
            args.name,
            args.resource_type,
            problem,
            "keep HSTS and the security headers on the entry point and TLS 1.2+ in the default TLS options: "
            "the lab manager's routers get no other",
        )


RULES = [
    Rule(
        "traefik-api-not-insecure",
        "Traefik's API and dashboard are never served insecurely",
        "mandatory",
        api_not_insecure,
    ),
    Rule(
        "traefik-hardening-reaches-every-router",
        "Traefik's headers and TLS minimum apply to every router, the lab manager's included",
        "mandatory",
        hardening_reaches_every_router,
    ),
    Rule(
        "traefik-docker-not-exposed-by-default",
        "Traefik's Docker provider exposes nothing by default",
        "mandatory",
        docker_not_exposed_by_default,
    ),
]
