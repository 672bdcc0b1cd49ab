"""Project files: Pulumi.yaml against Pulumi's own schema, the stack schema, the stack files."""

from __future__ import annotations

import json
import subprocess

import jsonschema
import pytest
import yaml

from constellab.schema import SCHEMA_PATH, render_schema
from tests.conftest import ROOT, SHARED, STACKS, missing, tool


def test_pulumi_yaml_is_valid_against_pulumis_project_schema():
    schema_path = SHARED / "schemas" / "pulumi-project.schema.json"
    if not schema_path.is_file():
        missing(f"{schema_path} is not beside this checkout")
    schema = json.loads(schema_path.read_text())
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    jsonschema.validate(project, schema)
    assert project["name"] == "constellab"
    assert project["runtime"]["name"] == "python" and project["runtime"]["options"]["virtualenv"] == ".venv"
    assert project["stackConfigDir"] == "stacks"


def test_the_stack_schema_beside_the_stacks_is_up_to_date():
    assert SCHEMA_PATH.read_text() == render_schema(), "run `python -m ops schema`"


@pytest.mark.slow
def test_every_stack_file_passes_check_jsonschema_with_the_exported_schema():
    checker = tool("check-jsonschema")
    files = sorted(str(p) for p in STACKS.glob("Pulumi.*.yaml"))
    result = subprocess.run([checker, "--schemafile", str(SCHEMA_PATH), *files], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_check_jsonschema_rejects_a_plain_secret_in_a_stack_file(tmp_path):
    checker = tool("check-jsonschema")
    document = yaml.safe_load((STACKS / "Pulumi.local.yaml").read_text())
    document["config"]["constellab:communityApiKey"] = "hunter2"
    path = tmp_path / "Pulumi.leaky.yaml"
    path.write_text(yaml.safe_dump(document))
    result = subprocess.run([checker, "--schemafile", str(SCHEMA_PATH), str(path)], capture_output=True, text=True)
    assert result.returncode != 0
