"""A stack's settings: its secrets (`secrets`), reading and validating its stack file (`stack_file`), and the
validation errors in the stack file's terms (`validation_errors`). The rest of the toolkit takes them from here.
"""

from __future__ import annotations

from constellab.secrets import (
    ACME_DNS_TOKEN,
    CLOUDFLARE_TOKEN,
    CODELAB_TOKENS,
    COMMUNITY_API_KEY,
    LAB_MANAGER_API_KEYS,
    OPENAI_API_KEY,
    PLATFORM_KEY,
    REPLACED_KEYS,
    SECRET_KEYS,
    SECRET_MAPS,
    SPACE_API_KEYS,
    TLS_PRIVATE_KEYS,
    SecretKey,
    SecretState,
    acme_servers,
    manual_certificate_servers,
    required_members,
    required_secrets,
    space_keyed_servers,
    stack_configured_servers,
)
from constellab.stack_file import (
    STACK_FILE_KEYS,
    RawStackConfig,
    StackConfigError,
    StackSettings,
    load_stack_file,
    read_stack_file,
    stack_name_of,
    validate,
)
from constellab.validation_errors import issues_from_validation_error

__all__ = [
    "ACME_DNS_TOKEN",
    "CLOUDFLARE_TOKEN",
    "CODELAB_TOKENS",
    "COMMUNITY_API_KEY",
    "LAB_MANAGER_API_KEYS",
    "OPENAI_API_KEY",
    "PLATFORM_KEY",
    "REPLACED_KEYS",
    "SECRET_KEYS",
    "SECRET_MAPS",
    "SPACE_API_KEYS",
    "STACK_FILE_KEYS",
    "TLS_PRIVATE_KEYS",
    "RawStackConfig",
    "SecretKey",
    "SecretState",
    "StackConfigError",
    "StackSettings",
    "acme_servers",
    "issues_from_validation_error",
    "load_stack_file",
    "manual_certificate_servers",
    "read_stack_file",
    "required_members",
    "required_secrets",
    "space_keyed_servers",
    "stack_configured_servers",
    "stack_name_of",
    "validate",
]
