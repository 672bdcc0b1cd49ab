"""How a hub's or lab's configuration reaches Constellab's lab manager: from the Space, or from the stack.

`configuration.mode: space` (the default) leaves the lab to the Space, as on Constellab's cloud: the Space
configures bricks and starts the lab through the lab manager's API, with the API key it generated for
that lab. `configuration.mode: stack` declares the lab here, and `pulumi up` hands it to the lab manager
itself (`PUT /lab/config`, then `POST /lab/init-all`).

The two request bodies are rendered here, as plain data. Their shapes come from the lab manager's public
sources, which changed over time, and from lab-configurer's `on-premise/config-file-example.json` and
`lab-file-example.json`:
- `/lab/config`: older managers read `lab_id`, `name`, `biota_maria_db_url` and `environment.git|pip`;
  the newest keep only `front_version`, `glab_tag`, `variables` and `environment.{bricks,variables}` and
  store the body as it is (`<VOLUME_PATH>/conf/config.json`).
- `/lab/init-all`: older managers take a flat document (`space.apiKey`, `codelabToken`,
  `gwsCoreProdPassword`, `labConfig.enableBackup`, ...); the newest a nested one (`space.prodApiKey`,
  `lab.{id,name,codelabToken,captchaSiteKey}`, `db.*`, `backup.enable`). Neither validates more than
  the presence of its own required fields (TypeScript interfaces, no validation pipe), so one body
  carrying both shapes is accepted by either, and the lab manager version pinned in `images` decides.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from constellab.config_types import HttpsUrl, Model

BIOTA_BRICK = "gws_biota"
CORE_BRICK = "gws_core"

_BRICK_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_VERSION = re.compile(r"^v?[0-9][A-Za-z0-9._+-]{0,63}$")
_LAB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
# A variable lands in plain text in the stack file, in Pulumi's state and in the lab's env file.
_SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_KEY|ACCESS_KEY", re.IGNORECASE)


def _check_brick_name(value: str) -> str:
    if not _BRICK_NAME.match(value):
        raise PydanticCustomError(
            "brick_name", f"{value!r} is not a brick name: lowercase letters, digits and '_' (e.g. 'gws_core')"
        )
    return value


def _check_version(value: str) -> str:
    if not _VERSION.match(value):
        raise PydanticCustomError(
            "version",
            f"{value!r} is not a pinned version: start with a digit, e.g. '0.18.4' ('latest' and 'beta' move)",
        )
    return value


def _check_lab_id(value: str) -> str:
    if not _LAB_ID.match(value):
        raise PydanticCustomError(
            "lab_id", f"{value!r} is not a lab id: copy the lab's id from the Space (letters, digits, '-', '_')"
        )
    return value


def _check_variables(value: dict[str, str]) -> dict[str, str]:
    for name in value:
        if not _VARIABLE.match(name):
            raise PydanticCustomError(
                "variable_name", "{name} is not an environment variable name (e.g. 'MY_SETTING')", {"name": repr(name)}
            )
        if _SECRET_NAME.search(name):
            raise PydanticCustomError(
                "variable_secret",
                "{name} looks like a secret: variables are plain text in the stack file, the state and the "
                "lab's env file; keep secrets out of them",
                {"name": repr(name)},
            )
    return value


BrickName = Annotated[str, AfterValidator(_check_brick_name)]
Version = Annotated[str, AfterValidator(_check_version)]
"""A pinned version or image tag: starts with a digit (optionally after `v`)."""
LabId = Annotated[str, AfterValidator(_check_lab_id)]
Variables = Annotated[dict[str, str], AfterValidator(_check_variables)]


class Brick(Model):
    """A brick the lab installs, at a pinned version."""

    name: BrickName
    version: Version


class PipPackage(Model):
    """A Python package the lab installs from a pip source."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]
    version: Version
    is_brick: bool = False
    is_hidden: bool = False


class PipSource(Model):
    """A pip index and the packages taken from it (older lab managers only; newer ones ignore it)."""

    source: HttpsUrl
    packages: Annotated[tuple[PipPackage, ...], Field(min_length=1)]


class GitPackage(Model):
    """A package installed from a git repository, at a branch and commit."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]
    branch: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")]
    commit: Annotated[str, Field(pattern=r"^[0-9a-f]{7,40}$")]
    """The commit to install, pinned (a moving 'latest' is refused)."""
    version: Version
    is_brick: bool = False
    is_hidden: bool = False


class GitSource(Model):
    """A git host and the packages taken from it (older lab managers only; newer ones ignore it)."""

    source: HttpsUrl
    packages: Annotated[tuple[GitPackage, ...], Field(min_length=1)]


class SpaceConfiguration(Model):
    """The Space configures and starts the lab (the default).

    The lab manager's API key is the one the Space generated for this lab: store it with
    `pulumi config set --secret --path 'labManagerApiKeys.<server>' <key>`.
    """

    mode: Literal["space"] = "space"


class StackConfiguration(Model):
    """The stack declares the lab; `pulumi up` hands it to the lab manager and waits until the lab is UP."""

    mode: Literal["stack"]
    lab_id: LabId
    """The lab's id in the Space (the lab is created there first)."""
    lab_name: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    """Display name; the server's name when unset."""
    front_version: Version
    glab_tag: Version
    """Tag of glab and Codelab (`constellab/glab:<tag>`, `constellab/codelab:<tag>`)."""
    bricks: Annotated[tuple[Brick, ...], Field(min_length=1)]
    """Every brick with its version; `gws_core` is always one of them."""
    biota_datadir_url: HttpsUrl | None = None
    """Where the lab manager downloads the Biota database's data directory; required with `gws_biota`."""
    pip: tuple[PipSource, ...] = ()
    git: tuple[GitSource, ...] = ()
    variables: Variables = Field(default_factory=dict)
    """Plain settings for the lab (its custom env file); never a secret."""
    backup: bool = True
    """Whether the lab manager backs the lab up (to the targets registered in the Space)."""
    captcha_site_key: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{10,100}$")] | None = None
    """The site key of the lab's captcha (public by design); none by default."""
    openai: bool = False
    """Hand the stack's secret `openaiApiKey` to the lab."""
    up_timeout_minutes: Annotated[int, Field(ge=5, le=720)] | None = None
    """How long `pulumi up` waits for the lab to be UP once configured: 30 minutes by default, 120 with
    the Biota brick (the lab manager first downloads its ~10 GB data directory)."""

    @property
    def up_timeout_seconds(self) -> int:
        if self.up_timeout_minutes is not None:
            return self.up_timeout_minutes * 60
        return (120 if BIOTA_BRICK in {brick.name for brick in self.bricks} else 30) * 60

    @model_validator(mode="after")
    def _bricks_consistent(self) -> StackConfiguration:
        names = [brick.name for brick in self.bricks]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise PydanticCustomError(
                    "repeated_brick", "'{name}' is listed twice", {"name": name, "field": f"bricks[{index}].name"}
                )
        if CORE_BRICK not in names:
            raise PydanticCustomError(
                "core_brick", "gws_core is always a brick of a lab: add it with its version", {"field": "bricks"}
            )
        if BIOTA_BRICK in names and self.biota_datadir_url is None:
            raise PydanticCustomError(
                "biota_datadir",
                "the gws_biota brick needs the URL of the Biota data directory the lab manager downloads",
                {"field": "biotaDatadirUrl"},
            )
        if BIOTA_BRICK not in names and self.biota_datadir_url is not None:
            raise PydanticCustomError(
                "biota_datadir_unused",
                "is only used with the gws_biota brick: add the brick or remove the URL",
                {"field": "biotaDatadirUrl"},
            )
        return self

    @property
    def biota(self) -> bool:
        return any(brick.name == BIOTA_BRICK for brick in self.bricks)


LabConfiguration = Annotated[SpaceConfiguration | StackConfiguration, Field(discriminator="mode")]


# ---------------------------------------------------------------------------------------------
# The request bodies
# ---------------------------------------------------------------------------------------------


def config_body(configuration: StackConfiguration, server_name: str) -> dict[str, Any]:
    """The body of `PUT /lab/config` (no secret in it)."""
    return {
        "lab_id": configuration.lab_id,
        "name": configuration.lab_name or server_name,
        "front_version": configuration.front_version,
        "glab_tag": configuration.glab_tag,
        "biota_maria_db_url": configuration.biota_datadir_url,
        "variables": dict(configuration.variables),
        "environment": {
            "bricks": [{"name": brick.name, "version": brick.version} for brick in configuration.bricks],
            "git": [
                {"source": source.source, "packages": [_package(package) for package in source.packages]}
                for source in configuration.git
            ],
            "pip": [
                {"source": source.source, "packages": [_package(package) for package in source.packages]}
                for source in configuration.pip
            ],
            "variables": {},
        },
    }


def _package(package: PipPackage | GitPackage) -> dict[str, Any]:
    return package.model_dump(mode="json", by_alias=False)


def init_body(
    configuration: StackConfiguration,
    server_name: str,
    *,
    space_api_url: str,
    space_front_url: str,
    space_api_key: str,
    community_api_url: str,
    community_front_url: str,
    community_api_key: str,
    codelab_token: str,
    prod_db_password: str,
    dev_db_password: str,
    openai_api_key: str | None,
) -> dict[str, Any]:
    """The body of `POST /lab/init-all`, in both shapes the lab manager has taken (see the module doc)."""
    name = configuration.lab_name or server_name
    return {
        "space": {
            "apiUrl": space_api_url,
            "frontUrl": space_front_url,
            "apiKey": space_api_key,
            "prodApiKey": space_api_key,
            "devApiKey": space_api_key,
        },
        "community": {"apiUrl": community_api_url, "apiKey": community_api_key, "frontUrl": community_front_url},
        "lab": {
            "id": configuration.lab_id,
            "name": name,
            "codelabToken": codelab_token,
            "captchaSiteKey": configuration.captcha_site_key,
        },
        "db": {"gwsCoreProdPassword": prod_db_password, "gwsCoreDevPassword": dev_db_password},
        "backup": {"enable": configuration.backup},
        "codelabToken": codelab_token,
        "gwsCoreProdPassword": prod_db_password,
        "gwsCoreDevPassword": dev_db_password,
        "labConfig": {"enableBackup": configuration.backup},
        "captchaSiteKey": configuration.captcha_site_key,
        "openaiApiKey": openai_api_key,
    }
