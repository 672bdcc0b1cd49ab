"""The administrators' SSH keys as instance tags: how a cloud server learns them at boot, and later.

Cloud-init's user and key modules run once per instance, and the user data is never changed on a
running server (a change would stop and start it): the keys cannot travel there. Instance tags can:
they change in place, and the metadata service shows them (`instance_metadata_tags`). A replaced
instance boots with the user data of the one it replaces (Pulumi keeps an ignored property's old
value for the replacement), so its first boot installs exactly the keys in its tags, the current
ones. A running server gets them over SSH from its preparation (`host_setup.prepare_script`).

EC2 limits a tag value to 256 characters and an instance to 50 tags; keys are longer (RSA 4096 is
about 740 characters) and may hold characters a value should not, so the tags carry the
`authorized_keys` text in base64, cut in pieces: `constellab-ssh-keys-00`, `-01`, ...
(https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_Tags.html#tag-restrictions).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

TAG_PREFIX = "constellab-ssh-keys-"
TAG_VALUE_LIMIT = 256
MAX_TAGS = 30
"""Tags the keys may take (EC2 allows 50 per instance; the server's own tags need a few)."""


def authorized_keys(keys: Sequence[str]) -> str:
    """The `authorized_keys` file holding exactly these keys, one per line."""
    return "".join(f"{key.strip()}\n" for key in keys)


def key_tags(keys: Sequence[str]) -> dict[str, str]:
    """The instance tags carrying the keys (empty for no keys)."""
    encoded = base64.b64encode(authorized_keys(keys).encode()).decode() if keys else ""
    pieces = [encoded[start : start + TAG_VALUE_LIMIT] for start in range(0, len(encoded), TAG_VALUE_LIMIT)]
    return {f"{TAG_PREFIX}{index:02d}": piece for index, piece in enumerate(pieces)}


def keys_from_tags(tags: dict[str, str]) -> list[str]:
    """The keys the tags carry, as the boot script reads them back (pieces in name order)."""
    encoded = "".join(value for name, value in sorted(tags.items()) if name.startswith(TAG_PREFIX))
    return base64.b64decode(encoded).decode().splitlines()
