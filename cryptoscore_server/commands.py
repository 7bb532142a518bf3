"""The server's commands in the ``cryptoscore`` command line: serve, worker, token create.

The command line (``cryptoscore_cli``) does not import the server: it loads every function
registered under the ``cryptoscore.commands`` entry point and lets it add its subcommands.
This module imports only the standard library (and the command line's error class) at load
time, so the command line of a trustee or participant who installed no web stack still
starts; there, running one of these commands says in one line which extra to install.
"""

from __future__ import annotations

import argparse
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


def cmd_token_create(args: argparse.Namespace) -> None:
    launch = _launch()
    print(launch.create_token_command(args.role, args.name))


def add_commands(sub: Any) -> None:
    """Add ``serve``, ``worker`` and ``token create`` to the command line's subparsers."""
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

    p = sub.add_parser("token", help="API tokens")
    token_sub = p.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    p = token_sub.add_parser("create", help="create a token (printed once) in the local database")
    p.add_argument("--role", required=True, choices=_ROLES)
    p.add_argument("--name", required=True, help="who holds it (a trustee: its roster id)")
    p.set_defaults(func=cmd_token_create)
