"""`constellab/ssh_keys.py`: the administrators' SSH keys carried in instance tags."""

from __future__ import annotations

from constellab import ssh_keys


def test_ssh_keys_travel_as_tags_of_at_most_256_characters_and_come_back_whole():
    rsa = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAACAQ" + "x" * 700 + " ops@acme"
    keys = [rsa, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHk3 second@acme"]
    tags = ssh_keys.key_tags(keys)
    assert len(tags) == 5 and all(len(value) <= 256 for value in tags.values())
    assert sorted(tags) == [f"constellab-ssh-keys-0{index}" for index in range(5)]
    assert ssh_keys.keys_from_tags({**tags, "Name": "lab1"}) == keys
