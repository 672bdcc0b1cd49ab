"""The names of the values a server is given at deployment, each declared once.

A container's environment or file takes a `topology.Ref` to one of these rather than a string, so a wrong
name is a type error. `Configured` values come from the stack (its secrets, a bucket, the region);
`Generated` ones are made for the server and kept in state (database passwords). Their `.value` strings
name resources and secret references in the state: they never change.
"""

from __future__ import annotations

from enum import StrEnum


class Configured(StrEnum):
    """Handed to a server: a configured secret (`SecretKey.ref`), the space's bucket, the region."""

    CLOUDFLARE_TOKEN = "cloudflare-token"
    ACME_DNS_TOKEN = "acme-dns-token"
    COMMUNITY_API_KEY = "community-api-key"
    OPENAI_API_KEY = "openai-api-key"
    LAB_MANAGER_API_KEY = "lab-manager-api-key"
    """Configured per server (the Space's key), generated for a local lab (`Ref.generated`)."""
    SPACE_API_KEY = "space-api-key"
    CODELAB_TOKEN = "codelab-token"
    TLS_PRIVATE_KEY = "tls-private-key"
    TLS_CERTIFICATE = "tls-certificate"
    SPACE_BUCKET = "space-bucket"
    SPACE_PREFIX = "space-prefix"
    AWS_REGION = "aws-region"


class Generated(StrEnum):
    """Made for a server and kept in its state."""

    DB_SPACE_PASSWORD = "db-space-password"
    DB_SPACE_ROOT_PASSWORD = "db-space-root-password"


Value = Configured | Generated
