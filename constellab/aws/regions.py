"""AWS region names: `eu-west-3`, `us-gov-west-1`, `ap-southeast-2`, `il-central-1`..."""

from __future__ import annotations

import re

AWS_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]+")
