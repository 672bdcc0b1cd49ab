"""The Pulumi SDK's internals this project relies on (`sdk_internals`), checked against the installed SDK.

An SDK upgrade that moves, renames or changes one of them fails here, naming it, instead of somewhere deep in
a preview or a config check.
"""

from __future__ import annotations

import asyncio
import contextvars
import json

import pytest
from google.protobuf import struct_pb2

import sdk_internals
from offline.engine import InlineExecutor, is_secret


def test_a_secret_survives_the_wire_marked_with_the_signature_the_engine_reads():
    wrapped = sdk_internals.wrap_secret("s3cr3t")
    assert wrapped == {sdk_internals.SIGNATURE_KEY: sdk_internals.SECRET_SIGNATURE, "value": "s3cr3t"}

    struct = struct_pb2.Struct()
    struct.update({"password": wrapped})
    round_trip = sdk_internals.deserialize(struct)

    assert is_secret(round_trip["password"]) and round_trip["password"]["value"] == "s3cr3t"
    assert sdk_internals.deserialize(sdk_internals.serialize({"size": 100})) == {"size": 100}


def test_the_unknown_value_is_the_engines_sentinel_which_a_deployment_never_keeps():
    assert sdk_internals.UNKNOWN == "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
    struct = struct_pb2.Struct()
    struct.update({"id": sdk_internals.UNKNOWN, "size": 1})
    assert sdk_internals.deserialize(struct) == {"size": 1}, "outside a preview an unknown value is dropped"
    assert isinstance(sdk_internals.Unknown(), sdk_internals.Unknown)


def test_the_config_the_engine_hands_over_can_be_listed_and_its_secrets_told_apart():
    sdk_internals.set_config({"constellab:platform": json.dumps({"customer": "x"}), "constellab:token": "t"},
                             ["constellab:token"])  # fmt: skip

    assert {"constellab:platform", "constellab:token"} <= sdk_internals.config_keys()
    assert sdk_internals.config_value("constellab:token") == "t"
    assert sdk_internals.config_is_secret("constellab:token") and not sdk_internals.config_is_secret(
        "constellab:platform"
    )


def test_the_runtime_parts_the_offline_engine_drives_are_where_it_expects_them():
    assert isinstance(sdk_internals.root_stack_variable(), contextvars.ContextVar)
    sdk_internals.reset_root_stack()
    assert sdk_internals.root_stack_variable().get() is None
    sdk_internals.skip_stack_traces()
    from pulumi.runtime import resource as runtime_resource

    assert runtime_resource._get_stack_trace() == sdk_internals._empty_stack_trace()
    assert isinstance(sdk_internals.pending_registrations(), list)
    sdk_internals.use_executor(InlineExecutor())

    async def seven() -> int:
        return 7

    assert sdk_internals.run_until_complete(seven()) == 7
    assert asyncio.iscoroutinefunction(sdk_internals.MockMonitor.RegisterResource) is False
    assert callable(sdk_internals.MockMonitor.make_urn)


@pytest.mark.parametrize("name", ["MockCallArgs", "MockMonitor", "MockResourceArgs"])
def test_the_mock_engines_classes_are_exported(name):
    assert getattr(sdk_internals, name).__module__ == "pulumi.runtime.mocks"
