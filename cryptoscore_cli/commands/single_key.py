"""Single-key mode, on local files and without a server (tests, local trials): ``keygen``,
``encrypt``, ``validity``, ``score``, ``decrypt``. A real challenge uses the trustees' key
ceremony (``commands/dealer.py``) instead of one secret key."""

from __future__ import annotations

import argparse
import json
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

import cryptoscore as cs
from cryptoscore.scoring.circuits import check_pair
from cryptoscore.scoring.decryption import decrypt_aggregate
from cryptoscore.scoring.encoding import Layout
from cryptoscore_cli.commands.common import progress_bar, read_file, write_file

if TYPE_CHECKING:
    from cryptoscore_cli.commands.common import Subparsers

__all__ = ["add_decrypt", "add_encrypt", "add_keygen", "add_score", "add_validity"]


def cmd_keygen(args: argparse.Namespace) -> None:
    params = cs.get_parameter_set(args.params)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    keys = cs.generate_keys(params)
    write_file(str(out / "public.ctx"), keys.public.to_bytes())
    write_file(str(out / "evaluation.keys"), keys.evaluation.to_bytes())
    write_file(str(out / "secret.key"), keys.secret.to_bytes(), private=True)
    print(f"key id {keys.public.key_id}")
    print(f"wrote {out}/public.ctx, {out}/evaluation.keys, {out}/secret.key (single-key mode:")
    print("for tests and local trials only; a real challenge uses the trustees' key ceremony)")


def cmd_encrypt(args: argparse.Namespace) -> None:
    public = cs.PublicContext.from_bytes(read_file(args.public))
    indices = cs.load_class_indices(args.input)
    layout = Layout.for_params(public.params, int(indices.size), args.classes)
    encrypt = cs.encrypt_labels if args.kind == "labels" else cs.encrypt_predictions
    with progress_bar(layout.ciphertexts, f"encrypting {args.kind}", args.quiet) as progress:
        bundle = encrypt(
            indices,
            public,
            classes=args.classes,
            challenge=args.challenge,
            out=args.output,
            progress=progress,
        )
    size = Path(args.output).stat().st_size
    print(f"{args.output}: {bundle.header.n} {args.kind}, {size} bytes, sha256 {bundle.digest}")


def cmd_validity(args: argparse.Namespace) -> None:
    keys = cs.EvaluationKeys.from_bytes(read_file(args.evaluation_keys))
    bundle = cs.EncryptedBundle.open(args.bundle)
    seed = bytes.fromhex(args.seed) if args.seed else secrets.token_bytes(32)
    with progress_bar(bundle.layout.chunks, "validity", args.quiet) as progress:
        aggregate = cs.validity(bundle, seed, keys, progress=progress)
    write_file(args.output, aggregate.to_bytes())
    print(f"{args.output}: validity aggregate, seed {seed.hex()}, sha256 {aggregate.digest}")


def cmd_score(args: argparse.Namespace) -> None:
    keys = cs.EvaluationKeys.from_bytes(read_file(args.evaluation_keys))
    preds = cs.EncryptedBundle.open(args.predictions)
    labels = cs.EncryptedBundle.open(args.labels)
    metrics = tuple(m.strip() for m in args.metrics.split(",") if m.strip())
    policy = cs.ReleasePolicy(preds.header.classes, metrics)
    check_pair(preds, labels)
    with progress_bar(preds.layout.chunks, "scoring", args.quiet) as progress:
        aggregate = cs.score(preds, labels, policy, keys, progress=progress)
    write_file(args.output, aggregate.to_bytes())
    names = ", ".join(aggregate.names[:4]) + ("…" if len(aggregate.names) > 4 else "")
    print(f"{args.output}: {names}; sha256 {aggregate.digest}")


def cmd_decrypt(args: argparse.Namespace) -> None:
    secret = cs.SecretKey.from_bytes(read_file(args.secret_key))
    aggregate = cs.AggregateCiphertext.from_bytes(read_file(args.aggregate))
    print(json.dumps(decrypt_aggregate(aggregate, secret), indent=2))


def output_options(p: argparse.ArgumentParser) -> None:
    """Where a command that computes on local files writes its result, and -q (no progress
    bar)."""
    p.add_argument("-o", "--output", required=True)
    p.add_argument("-q", "--quiet", action="store_true")


def add_keygen(sub: Subparsers) -> None:
    p = sub.add_parser("keygen", help="single-key mode key set (tests, local trials)")
    p.add_argument("--params", default=cs.DEFAULT.ID)
    p.add_argument("--out", required=True, help="directory for the key files")
    p.set_defaults(func=cmd_keygen)


def add_encrypt(sub: Subparsers) -> None:
    p = sub.add_parser("encrypt", help="encrypt class indices (CSV with one column or .npy)")
    p.add_argument("input")
    p.add_argument("--public", required=True, help="public context file")
    p.add_argument("--classes", type=int, required=True)
    p.add_argument("--challenge", required=True)
    p.add_argument("--kind", choices=("predictions", "labels"), default="predictions")
    output_options(p)
    p.set_defaults(func=cmd_encrypt)


def add_validity(sub: Subparsers) -> None:
    p = sub.add_parser("validity", help="compute a bundle's validity aggregate")
    p.add_argument("bundle")
    p.add_argument("--evaluation-keys", required=True)
    p.add_argument("--seed", help="64 hex digits (default: fresh random)")
    output_options(p)
    p.set_defaults(func=cmd_validity)


def add_score(sub: Subparsers) -> None:
    p = sub.add_parser("score", help="run the score circuit on predictions and labels")
    p.add_argument("predictions")
    p.add_argument("labels")
    p.add_argument("--evaluation-keys", required=True)
    p.add_argument("--metrics", default="correct", help="comma list: correct,errors,confusion")
    output_options(p)
    p.set_defaults(func=cmd_score)


def add_decrypt(sub: Subparsers) -> None:
    p = sub.add_parser("decrypt", help="single-key decryption of an aggregate ciphertext")
    p.add_argument("aggregate")
    p.add_argument("--secret-key", required=True)
    p.set_defaults(func=cmd_decrypt)
