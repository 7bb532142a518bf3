"""Commands for anyone finding out what CryptoScore offers, with no key and no server:
``params`` (the parameter sets, their noise bases and budgets) and ``demo`` (the whole story
locally, ``cryptoscore_cli/demo.py``)."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cryptoscore as cs
from cryptoscore_cli.errors import CliError

if TYPE_CHECKING:
    from cryptoscore_cli.commands.common import Subparsers

__all__ = ["add_demo", "add_params"]


def cmd_params(args: argparse.Namespace) -> None:
    from cryptoscore.scoring.noise import (
        TranscriptExposure,
        smudging_is_proven,
        transcript_exposure,
    )
    from cryptoscore.scoring.validity import check_count
    from cryptoscore.threshold.lineage import BUDGETS
    from cryptoscore.threshold.prss import shamir_transcript_exposure

    def figures(exposure: TranscriptExposure) -> dict[str, Any]:
        return {
            "statistical_distance_log2": {t.what: round(t.distance_log2, 1) for t in exposure.terms}
            | {"total": round(exposure.distance_log2, 1)},
            "renyi_inf_factor": round(exposure.renyi_factor, 4),
        }

    described = []
    for p in (cs.BFV8192, cs.BFV16384):
        proven = smudging_is_proven(p)
        basis = "proven worst case" if proven else "heuristic (average-case) noise estimate"
        n = min(1 << 20, p.max_count())
        exposure = transcript_exposure(p, 10_000, n, 2, 1, 3, check_count(p), committee=3)
        shamir = shamir_transcript_exposure(
            p, 10_000, n, 2, 1, check_count(p), committee=5, threshold=3
        )
        described.append(
            p.describe()
            | {
                "threshold_smudging": basis,
                "decryption_budget_per_lineage": dict(BUDGETS),
                "transcript_exposure": {
                    "challenge": f"10000 submissions of {n} binary items, 3 trustees",
                    **figures(exposure),
                },
                "transcript_exposure_shamir": {
                    "challenge": f"10000 submissions of {n} binary items, Shamir answers 3 of 5",
                    **figures(shamir),
                },
            }
        )
    print(json.dumps(described, indent=2))


def cmd_demo(args: argparse.Namespace) -> None:
    from cryptoscore_cli.demo import format_leaderboard, run_demo

    if importlib.util.find_spec("sklearn") is None:  # the demo's dataset and models
        raise CliError("the demo needs scikit-learn: pip install 'cryptoscore[demo]'")
    if args.serve:
        cmd_demo_serve(args)
        return
    if args.n_items:
        raise CliError("--n-items: only with --serve")
    out = Path(args.out) if args.out else None
    if out is not None and out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise CliError(f"--out {out}: give a new or empty folder")
    report = run_demo(out, say=(lambda _msg: None) if args.json else print)
    if args.json:
        print(json.dumps(report, sort_keys=True))
    else:
        print(format_leaderboard(report))
        if out is not None:
            print(f"audit bundle: {report['audit_bundle']}  (cryptoscore audit {out}/audit.zip)")
    if not report["audit"]["ok"]:
        raise CliError(f"audit failed at {report['audit']['first_failure']}")


def cmd_demo_serve(args: argparse.Namespace) -> None:
    """``demo --serve``: the story loaded into the running service (``demo_serve.py``)."""
    from cryptoscore_cli.commands.common import bearer_token
    from cryptoscore_cli.demo_serve import ServedDemo, format_served, run_served_demo

    n_items = args.n_items or DEMO_ITEMS
    if not MIN_DEMO_ITEMS <= n_items <= MAX_DEMO_ITEMS:
        raise CliError(f"--n-items: from {MIN_DEMO_ITEMS} to {MAX_DEMO_ITEMS} test images")
    demo = ServedDemo(
        server=args.server or DEFAULT_SERVER,
        admin_token=bearer_token(args) or "",
        out=Path(args.out) if args.out else None,
        n_items=n_items,
        params=args.params,
        timeout=args.timeout,
        quiet=args.quiet,
    )
    # with --json the progress lines go to stderr: stdout holds the one JSON object
    report = run_served_demo(demo, say=_stderr_line if args.json else print)
    if args.json:
        print(json.dumps(report, sort_keys=True))
    else:
        print(format_served(report))
    audit = report["audit"]
    if not audit["ok"]:
        where = audit["first_failure"] or "in progress: " + ", ".join(audit["in_progress"])
        raise CliError(f"audit failed at {where}")


def _stderr_line(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


DEFAULT_SERVER = "http://127.0.0.1:8000"
"""Where ``make run`` serves (``demo --serve`` without --server or CRYPTOSCORE_SERVER)."""
DEMO_ITEMS, MIN_DEMO_ITEMS, MAX_DEMO_ITEMS = 600, 20, 1500
"""The test images of ``demo --serve`` (of the 1,797 digits; the rest train the models)."""


def add_params(sub: Subparsers) -> None:
    p = sub.add_parser("params", help="list the parameter sets")
    p.set_defaults(func=cmd_params)


def add_demo(sub: Subparsers) -> None:
    from cryptoscore_cli.commands.common import server_options

    p = sub.add_parser(
        "demo",
        help="the whole story on scikit-learn's digits, locally; --serve: into a running service",
        description="Without --serve: the whole story in this process. With --serve: the same "
        "story loaded into a running service over its REST API (trustees, ceremony, tokens, "
        "challenge, labels, submissions, audit), with its admin token; nothing keeps running "
        "after it exits.",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--serve",
        action="store_true",
        help="load the demo into the service at --server (default $CRYPTOSCORE_SERVER, else "
        f"{DEFAULT_SERVER}) with the admin token",
    )
    server_options(p)
    p.add_argument(
        "--out",
        metavar="DIR",
        help="the demo's folder, kept (new or empty): journals and audit.zip; with --serve also "
        "identities, ceremony, tokens (default: a temporary one; with --serve "
        "./cryptoscore-<challenge>)",
    )
    p.add_argument(
        "--n-items",
        type=int,
        metavar="N",
        help=f"with --serve: test images (default {DEMO_ITEMS})",
    )
    p.add_argument(
        "--params",
        default=cs.BFV8192.ID,
        help="with --serve: the ceremony's parameter set (default bfv-8192, fast; bfv-16384 "
        "has proven decryption smudging: see `params`)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=1800.0,
        metavar="SECONDS",
        help="with --serve: how long to wait for pads and for every decision (default 1800)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_demo)
