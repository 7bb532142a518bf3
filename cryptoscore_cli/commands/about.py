"""Commands for anyone finding out what CryptoScore offers, with no key and no server:
``params`` (the parameter sets, their noise bases and budgets) and ``demo`` (the whole story
locally, ``cryptoscore_cli/demo.py``)."""

from __future__ import annotations

import argparse
import importlib.util
import json
from typing import TYPE_CHECKING

import cryptoscore as cs
from cryptoscore_cli.errors import CliError

if TYPE_CHECKING:
    from cryptoscore_cli.commands.common import Subparsers

__all__ = ["add_demo", "add_params"]


def cmd_params(args: argparse.Namespace) -> None:
    from cryptoscore.scoring.noise import smudging_is_proven, transcript_exposure
    from cryptoscore.scoring.validity import check_count
    from cryptoscore.threshold.lineage import BUDGETS

    described = []
    for p in (cs.BFV8192, cs.BFV16384):
        proven = smudging_is_proven(p)
        basis = "proven worst case" if proven else "heuristic (average-case) noise estimate"
        n = min(1 << 20, p.max_count())
        exposure = transcript_exposure(p, 10_000, n, 2, 1, 3, check_count(p))
        described.append(
            p.describe()
            | {
                "threshold_smudging": basis,
                "decryption_budget_per_lineage": dict(BUDGETS),
                "transcript_exposure": {
                    "challenge": f"10000 submissions of {n} binary items, 3 trustees",
                    "statistical_distance_log2": {
                        t.what: round(t.distance_log2, 1) for t in exposure.terms
                    }
                    | {"total": round(exposure.distance_log2, 1)},
                    "renyi_inf_factor": round(exposure.renyi_factor, 4),
                },
            }
        )
    print(json.dumps(described, indent=2))


def cmd_demo(args: argparse.Namespace) -> None:
    from cryptoscore_cli.demo import format_leaderboard, run_demo

    if importlib.util.find_spec("sklearn") is None:  # the demo's dataset and models
        raise CliError("the demo needs scikit-learn: pip install 'cryptoscore[demo]'")
    report = run_demo(say=(lambda _msg: None) if args.json else print)
    if args.json:
        print(json.dumps(report, sort_keys=True))
    else:
        print(format_leaderboard(report))
    if not report["audit"]["ok"]:
        raise CliError(f"audit failed at {report['audit']['first_failure']}")


def add_params(sub: Subparsers) -> None:
    p = sub.add_parser("params", help="list the parameter sets")
    p.set_defaults(func=cmd_params)


def add_demo(sub: Subparsers) -> None:
    p = sub.add_parser("demo", help="the whole story on scikit-learn's digits, locally")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_demo)
