"""`__main__.py`, as `pulumi up` runs it: validate first, then declare; refuse before registering."""

from __future__ import annotations

import runpy

import pulumi
import pytest

import sdk_internals
from offline.engine import quiescent
from tests.conftest import ROOT


@pulumi.runtime.test
def test_the_entry_point_declares_the_stack(engine_for):
    engine = engine_for("pharma-onprem")
    runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")

    def check(_):
        types = {r.type for r in engine.registrations}
        assert "constellab:platform:Platform" in types
        assert "docker:index/container:Container" in types

    return quiescent().apply(check)


@pulumi.runtime.test
def test_the_entry_point_refuses_a_plain_secret_before_registering_anything(engine_for):
    engine = engine_for("local")
    config = {key: sdk_internals.config_value(key) for key in sdk_internals.config_keys()}
    config["constellab:communityApiKey"] = "sk-plain"
    secret_keys = ["constellab:spaceApiKeys", "constellab:codelabTokens"]
    sdk_internals.set_config(config, secret_keys)
    with pytest.raises(pulumi.RunError) as refused:
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
    assert "constellab:communityApiKey: is stored in plain text" in str(refused.value)

    def check(_):
        assert engine.registrations == []

    return quiescent().apply(check)
