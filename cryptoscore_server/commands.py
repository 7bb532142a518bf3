"""The server's commands in the ``cryptoscore`` command line: serve, worker, and token
create | list | revoke.

``token`` talks to the service named by ``--server`` (or ``CRYPTOSCORE_SERVER``) with an admin
token (``--token`` or ``CRYPTOSCORE_TOKEN``), over REST, so the token it prints works on that
service whatever its data folder. ``token create --local`` writes this machine's database
(``DATA_DIR`` / ``DATABASE_URL``) instead: for bootstrapping only, when no admin token exists
yet (``make run`` mints the first one itself: ``serve --print-admin-token``).

The command line (``cryptoscore_cli``) does not import the server: it loads every function
registered under the ``cryptoscore.commands`` entry point and lets it add its subcommands.
This module imports only the standard library and the command line's own modules (its error
class, its REST client), never the web stack, so the command line of a trustee or participant
who installed no web stack still starts, and `token` works there over REST; `serve`,
`worker` and `token create --local` say in one line which extra to install.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any, NoReturn

from cryptoscore_cli.errors import CliError

__all__ = ["add_commands"]

_ROLES = ("admin", "organizer", "participant", "trustee", "auditor")


def _fail(message: str) -> NoReturn:
    raise CliError(message)


def _launch() -> Any:
    try:
        from cryptoscore_server import launch
    except ImportError as exc:
        _fail(f"the server is not installed here ({exc}): pip install 'cryptoscore[server]'")
    return launch


def cmd_serve(args: argparse.Namespace) -> None:
    launch = _launch()
    try:
        app = launch.open_app()
        server = launch.bind(args.host, args.port, app)  # before a token is minted for it
    except launch.StartupError as exc:
        _fail(str(exc))
    url = f"http://{args.host}:{server.effective_port}"
    if args.print_admin_token:
        token = launch.create_token_command("admin", "admin (make run)", app=app)
        print(f"CryptoScore on {url}/api/v1 — database {app.config['DATABASE_URL']}")
        print(f"admin token (shown once): {token}")
        print("next, in another terminal:")
        print(f"  export CRYPTOSCORE_SERVER={url} CRYPTOSCORE_TOKEN={token}")
        print("  .venv/bin/cryptoscore demo --serve     # a demo challenge, loaded over the API")
        print("  .venv/bin/cryptoscore token create --role organizer --name me")
        print("  .venv/bin/cryptoscore challenge create --help      # then see README.md")
        print(f"  curl {url}/api/v1/openapi.json")
    print(f"serving on {url}/api/v1 (Ctrl-C stops)", flush=True)
    launch.serve(args.host, args.port, app=app, server=server)


def cmd_worker(args: argparse.Namespace) -> None:
    if not os.environ.get("REDIS_URL"):
        _fail("cryptoscore worker needs REDIS_URL (without it jobs run in the server)")
    _launch()
    from cryptoscore_server.worker import main as worker_main

    worker_main(burst=args.burst)


def _admin_client(args: argparse.Namespace) -> Any:
    """The REST client of ``--server`` with the admin token (``--token-file``, ``--token`` or
    ``CRYPTOSCORE_TOKEN``: ``cryptoscore_cli.commands.common.bearer_token``)."""
    from cryptoscore_cli.api import Client
    from cryptoscore_cli.commands.common import bearer_token

    if not args.server:
        _fail(
            "no server: pass --server URL with an admin --token (or set CRYPTOSCORE_SERVER and "
            "CRYPTOSCORE_TOKEN); `token create --local` writes this machine's database instead"
        )
    token = bearer_token(args)
    if not token:
        _fail(
            f"token {args.token_command} needs an admin token: --token-file, --token or "
            "CRYPTOSCORE_TOKEN"
        )
    return Client(args.server, token)


def cmd_token_create(args: argparse.Namespace) -> None:
    if args.local:
        launch = _launch()
        print(launch.create_token_command(args.role, args.name))
        return
    print(_admin_client(args).create_token(args.role, args.name)["token"])


def cmd_token_list(args: argparse.Namespace) -> None:
    rows = _admin_client(args).tokens()
    if args.json:
        print(json.dumps(rows, indent=2, sort_keys=True))
        return
    for row in rows:
        state = "active" if row["active"] else f"revoked {row['revoked_at']}"
        print(f"{row['id']:>4}  {row['role']:11} {row['name']:24} {row['created_at']}  {state}")


def cmd_token_revoke(args: argparse.Namespace) -> None:
    row = _admin_client(args).revoke_token(args.id)
    print(f"token {row['id']} ({row['role']} {row['name']!r}) revoked at {row['revoked_at']}")


def add_commands(sub: Any) -> None:
    """Add ``serve``, ``worker`` and ``token`` to the command line's subparsers."""
    p = sub.add_parser("serve", help="run the REST service (SQLite and ./data by default)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    p.add_argument(
        "--port", type=int, default=8000, help="port to listen on (8000; `make run PORT=…`)"
    )
    p.add_argument(
        "--print-admin-token",
        action="store_true",
        help="create and print an admin token, once the port is bound",
    )
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("worker", help="consume the RQ job queue at REDIS_URL")
    p.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    p.set_defaults(func=cmd_worker)

    from cryptoscore_cli.commands.common import server_options

    p = sub.add_parser("token", help="API tokens (admin), on the server named by --server")
    token_sub = p.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    p = token_sub.add_parser("create", help="create a token (printed once)")
    server_options(p)
    p.add_argument("--role", required=True, choices=_ROLES)
    p.add_argument("--name", required=True, help="who holds it (a trustee: its roster id)")
    p.add_argument(
        "--local",
        action="store_true",
        help="bootstrapping only: write this machine's database (DATA_DIR, DATABASE_URL) "
        "instead of asking --server",
    )
    p.set_defaults(func=cmd_token_create)
    p = token_sub.add_parser("list", help="every token's id, role, name and state")
    server_options(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_token_list)
    p = token_sub.add_parser("revoke", help="revoke a token by its id (from `token list`)")
    server_options(p)
    p.add_argument("id", type=int)
    p.set_defaults(func=cmd_token_revoke)
