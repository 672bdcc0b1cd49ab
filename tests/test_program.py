"""The real program under Pulumi's mock engine: what holds for each shipped stack as a whole.

What one component declares is in its own file (test_<component>_component.py).
"""

from __future__ import annotations

import threading

import pulumi
import pytest

from tests.conftest import STACK_NAMES, declared, of_type


@pytest.mark.parametrize("stack", STACK_NAMES)
@pulumi.runtime.test
def test_every_shipped_stack_declares_its_servers_with_unique_urns(engine_for, stack):
    engine = engine_for(stack)

    def check(registrations):
        urns = [r.urn for r in registrations]
        assert len(urns) == len(set(urns)), "duplicate URNs would be rejected by a real deployment"
        hosts = {r.name for r in registrations if r.type == "constellab:host:ServerHost"}
        expected = {f"{engine.settings.platform.customer}-{s.name}-host" for _, s in engine.settings.platform.servers()}
        assert hosts == expected

    return declared(engine).apply(check)


@pulumi.runtime.test
@pytest.mark.parametrize("stack", ["acme-cloud", "biolab-hybrid"])
def test_stateful_resources_are_protected_and_retained_on_delete(engine_for, stack):
    engine = engine_for(stack)

    def check(registrations):
        stateful = of_type(registrations, "aws:s3/bucket:Bucket") + of_type(registrations, "aws:ebs/volume:Volume")
        # A space storage bucket, a hub data lake, two backup buckets per hub or lab, the stack's access-log bucket;
        # a data volume per cloud server.
        assert len(stateful) == {"acme-cloud": 2 + 2 * 3 + 1 + 4, "biolab-hybrid": 1 + 2 * 2 + 1 + 1}[stack]
        passwords = of_type(registrations, "random:index/randomPassword:RandomPassword")
        # The space's database (two passwords), and the prod and dev databases of a lab the stack configures.
        database_passwords = [r for r in passwords if "-db-" in r.name]
        assert len(database_passwords) == {"acme-cloud": 2, "biolab-hybrid": 2}[stack]
        stateful += database_passwords
        unprotected = [r.name for r in stateful if not (r.protect and r.retain_on_delete)]
        assert unprotected == []
        instances = of_type(registrations, "aws:ec2/instance:Instance")
        assert all(not r.protect for r in instances), "instances are replaceable: their data is on the volume"

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_the_offline_engine_answers_every_registration_in_the_programs_own_thread(engine_for):
    # Parallel previews fork after a first run: worker threads left behind by the SDK's RPC pool would
    # make that fork unsafe, and every hand-off to them costs time for an answer computed in-process.
    engine = engine_for("biolab-hybrid")
    answered_on: set[int] = set()
    answer = engine.mocks.new_resource

    def answer_recording_thread(args):
        answered_on.add(threading.get_ident())
        return answer(args)

    engine.mocks.new_resource = answer_recording_thread

    def check(registrations):
        assert len(registrations) > 100
        assert answered_on == {threading.get_ident()}
        return registrations

    return declared(engine).apply(check)
