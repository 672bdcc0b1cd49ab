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

EXAMPLES = (
    "./run ops render-proxy --stack pharma-onprem --server hub",
    "./run ops render-proxy --stack pharma-onprem --server hub --show-secrets --out /srv/constellab/traefik",
)


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", required=True, metavar="<stack>", help="the stack the server belongs to")
    parser.add_argument("--server", required=True, metavar="<name>", help="the hub's, lab's or space's name")
    parser.add_argument(
        "--out", metavar="<dir>", help="where the files go (default: rendered/<stack>/<server>, ignored by git)"
    )
    parser.add_argument("--show-secrets", action="store_true", help="write real secret values (files mode 0600)")
    parser.add_argument(
        "--force", action="store_true", help="with --show-secrets: write into the repository where git tracks files"
    )


def run(args: argparse.Namespace) -> int:
    from ops import render_proxy

    if args.force and not args.show_secrets:
        raise common.UsageError("--force only allows --show-secrets to write into the repository: add --show-secrets")
    # The stack's name, however it was given (a name or its file): the default folder and Pulumi's `-s` take it.
    stack = common.stack_name(common.stack_files([args.stack], False)[0])
    try:
        out = (
            render_proxy.output_directory(args.out)  # Path('') would silently be '.'
            if args.out is not None
            else render_proxy.default_output(common.ROOT, stack, args.server)
        )
    except render_proxy.OutputError as error:
        raise common.UsageError(str(error)) from None
    settings, server = common.stack_and_server(args.stack, args.server)
    reader = render_proxy.secret_reader(stack, common.ROOT) if args.show_secrets else None
    try:
        if args.show_secrets and not args.force:  # before any secret is read
            exposed = render_proxy.render(settings.platform, server, None)
            refusal = render_proxy.secrets_could_be_committed(exposed, out, common.ROOT)
            if refusal:
                raise common.UsageError(refusal)
        files = render_proxy.render(settings.platform, server, reader)
        written = render_proxy.write(files, out)
    except (render_proxy.SecretUnavailableError, render_proxy.OutputError) as error:
        raise common.UsageError(str(error)) from None
    for path in written:
        print(path)
    if not args.show_secrets:
        print("secrets are placeholders: --show-secrets writes the real values", file=sys.stderr)
    return 0
