"""`ops render-proxy`: write a server's Traefik files for review or air-gapped installs."""

from __future__ import annotations

import argparse
import sys

from ops import common

NAME = "render-proxy"
HELP = "write a server's Traefik files (static, dynamic, certificates) for review or air-gapped installs"
DESCRIPTION = (
    "Write the Traefik configuration the toolkit deploys on one server. Secrets are placeholders "
    "unless --show-secrets, which reads them from CONSTELLAB_* environment variables or `pulumi config get`."
)


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", required=True, metavar="<stack>")
    parser.add_argument("--server", required=True, metavar="<name>")
    parser.add_argument("--out", required=True, metavar="<dir>")
    parser.add_argument("--show-secrets", action="store_true", help="write real secret values (files mode 0600)")


def run(args: argparse.Namespace) -> int:
    from ops import render_proxy

    try:
        out = render_proxy.output_directory(args.out)  # Path('') would silently be '.'
    except render_proxy.OutputError as error:
        raise common.UsageError(str(error)) from None
    settings, server = common.stack_and_server(args.stack, args.server)
    reader = render_proxy.secret_reader(args.stack, common.ROOT) if args.show_secrets else None
    try:
        files = render_proxy.render(settings.platform, server, reader)
        written = render_proxy.write(files, out)
    except (render_proxy.SecretUnavailableError, render_proxy.OutputError) as error:
        raise common.UsageError(str(error)) from None
    for path in written:
        print(path)
    if not args.show_secrets:
        print("secrets are placeholders: --show-secrets writes the real values", file=sys.stderr)
    return 0
