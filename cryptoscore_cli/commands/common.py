"""What several roles' commands share: files, progress bars, passphrases, identities, the
server's clients, the options that name them, and encrypting an upload for a challenge.

``tqdm`` (the ``[cli]`` extra) is imported only when a progress bar starts: ``main`` says in
one line that the extra is missing before any command runs.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

import cryptoscore as cs
from cryptoscore.errors import FormatError
from cryptoscore.scoring.encoding import Layout
from cryptoscore_cli.errors import CliError

if TYPE_CHECKING:
    from cryptoscore.identity import Identity
    from cryptoscore_cli.api import Client, ProtocolClient, Transfer

    Subparsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]
    """What ``add_subparsers`` returns: each command module adds its commands to it."""

__all__ = [
    "MIN_PASSPHRASE_BYTES",
    "ask_passphrase",
    "client",
    "encrypt_for",
    "identity_options",
    "new_identity",
    "open_identity",
    "progress_bar",
    "protocol_client",
    "read_file",
    "server_options",
    "signer_options",
    "transfer_bar",
    "unlock_identity",
    "upload_options",
    "write_file",
]


# -- files and progress -----------------------------------------------------------------------
def read_file(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None


def write_file(path: str, data: bytes, *, private: bool = False) -> None:
    target = Path(path)
    tmp = target.with_name(target.name + ".partial")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    try:
        fd = os.open(tmp, flags, 0o600 if private else 0o644)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror}") from None


class Advance(Protocol):
    """Tell a bar the work done so far, and its total if that changed."""

    def __call__(self, done: int, total: int | None = None) -> None: ...


@contextmanager
def progress_bar(total: int, desc: str, quiet: bool, unit: str = "ct") -> Iterator[Advance]:
    """A bar on stderr, told the work done so far (and, if it changed, the total); none with
    ``quiet`` or when stderr is not a terminal (tqdm's ``disable=None``), so logs and pipes get
    no bar."""
    with _bar(total, desc, quiet, unit) as bar:

        def advance(done: int, total: int | None = None) -> None:
            if total is not None and bar.total != total:
                bar.total = total
            bar.update(done - bar.n)

        yield advance


@contextmanager
def transfer_bar(desc: str, quiet: bool) -> Iterator[Transfer]:
    """A bar in bytes for an upload or a download (``api.Transfer``: ``(done, total)``; its
    total is learnt from the first report), as :func:`progress_bar` shows it."""
    with _bar(None, desc, quiet, "B", scale=True) as bar:

        def transferred(done: int, total: int) -> None:
            if total and bar.total != total:
                bar.total = total
            bar.update(done - bar.n)

        yield transferred


@contextmanager
def _bar(
    total: int | None, desc: str, quiet: bool, unit: str, *, scale: bool = False
) -> Iterator[Any]:
    from tqdm import tqdm  # the [cli] extra; main() says so in one line if it is missing

    # the delay keeps input errors (raised before any work) to one line on stderr
    bar = tqdm(
        total=total,
        desc=desc,
        unit=unit,
        unit_scale=scale,
        disable=True if quiet else None,
        file=sys.stderr,
        leave=False,
        delay=0.5,
    )
    try:
        yield bar
    finally:
        bar.close()


# -- passphrases and identities ---------------------------------------------------------------
MIN_PASSPHRASE_BYTES = 8
"""The shortest passphrase an identity or a share file is sealed with (``Identity.to_pem``,
``run_ceremony``): a typed one shorter than this is asked again at once."""


def stdin_is_terminal() -> bool:
    """Whether a passphrase can be typed (tests replace this)."""
    return sys.stdin is not None and sys.stdin.isatty()


def ask_passphrase(
    env_var: str | None, prompt: str, *, option: str, new: bool = False, minimum: int = 0
) -> bytes:
    """A passphrase from the named environment variable, else typed at the terminal: once to
    open an existing secret; a ``new`` one twice, and asked again while shorter than
    ``minimum`` bytes. Without a terminal, one line naming ``option`` (how to pass it instead).
    """
    if env_var:
        value = os.environ.get(env_var)
        if not value:
            raise CliError(f"environment variable {env_var} is not set")
        return value.encode()
    what = prompt.strip().rstrip(":")
    if not stdin_is_terminal():
        raise CliError(f"no terminal to type the {what}: pass {option} (not interactive)")
    while True:
        first = _typed(prompt, what, option)
        if len(first) >= minimum:
            break
        print(f"cryptoscore: at least {minimum} bytes; type it again", file=sys.stderr)
    if new and _typed("again: ", what, option) != first:
        raise CliError("the passphrases differ")
    return first


def _typed(prompt: str, what: str, option: str) -> bytes:
    try:
        return getpass.getpass(prompt).encode()
    except EOFError:  # the terminal closed mid-way
        raise CliError(f"no {what} typed: pass {option} (not interactive)") from None


def new_identity(args: argparse.Namespace, what: str) -> tuple[Path, str]:
    """Generate an Ed25519 identity into ``--out``: identity.pem (PKCS#8, encrypted with a
    passphrase typed twice or read from ``--passphrase-env``) and identity.pub (hex). Never
    overwrites one; ``what`` names it in that refusal. Nothing is written (not even the
    directory) until the passphrase is had. Returns the directory and the public key (hex),
    for ``identity init`` and ``trustee init`` to tell the user."""
    from cryptoscore.identity import Identity

    out = Path(args.out)
    if (out / "identity.pem").exists():
        raise CliError(f"{out}/identity.pem exists: refusing to overwrite {what}")
    identity = Identity.generate()
    passphrase = ask_passphrase(
        args.passphrase_env,
        "identity passphrase: ",
        option="--passphrase-env VAR",
        new=True,
        minimum=MIN_PASSPHRASE_BYTES,
    )
    pem = identity.to_pem(passphrase)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"cannot create {out}: {exc.strerror}") from None
    write_file(str(out / "identity.pem"), pem, private=True)
    write_file(str(out / "identity.pub"), (identity.public_key.hex() + "\n").encode())
    return out, identity.public_key.hex()


def open_identity(home: str, passphrase_env: str | None) -> Identity:
    """The identity in ``home``/identity.pem, opened with the passphrase from
    ``passphrase_env`` or typed once at the terminal."""
    return unlock_identity(home, passphrase_env)[0]


def unlock_identity(home: str, passphrase_env: str | None) -> tuple[Identity, bytes]:
    """:func:`open_identity`, and the passphrase that opened it (a trustee's ceremony seed
    file is sealed with it too)."""
    from cryptoscore.identity import Identity

    path = Path(home) / "identity.pem"
    pem = read_file(str(path))
    passphrase = ask_passphrase(
        passphrase_env, "identity passphrase: ", option="--passphrase-env VAR"
    )
    try:
        return Identity.from_pem(pem, passphrase), passphrase
    except FormatError as exc:
        raise CliError(f"{path}: {exc}") from None


# -- the server ---------------------------------------------------------------------------------
def _server(args: argparse.Namespace) -> str:
    server: str | None = args.server
    if not server:
        raise CliError("no server: pass --server URL or set CRYPTOSCORE_SERVER")
    return server


def bearer_token(args: argparse.Namespace) -> str | None:
    """The token of ``--token-file`` (its first line), else of ``--token``, else of
    ``CRYPTOSCORE_TOKEN``; ``None`` for public reads. A file or the variable keeps the token
    out of ``ps``; argparse refuses ``--token`` with ``--token-file``."""
    token_file: str | None = getattr(args, "token_file", None)
    if token_file is None:
        token: str | None = args.token
        return token
    lines = read_file(token_file).decode("utf-8", "replace").splitlines()
    if not lines or not lines[0].strip():
        raise CliError(f"{token_file}: no token in its first line")
    return lines[0].strip()


def client(args: argparse.Namespace) -> Client:
    """The REST client of ``--server`` with the token (:func:`bearer_token`; challenges)."""
    from cryptoscore_cli.api import Client

    return Client(_server(args), bearer_token(args))


def protocol_client(args: argparse.Namespace) -> ProtocolClient:
    """The protocol client of ``--server`` with the token (:func:`bearer_token`; enrolments,
    uploads, trustees, audits)."""
    from cryptoscore_cli.api import ProtocolClient

    return ProtocolClient(_server(args), bearer_token(args))


def encrypt_for(
    args: argparse.Namespace, client: ProtocolClient, info: Any, kind: str, identity: Identity
) -> tuple[bytes, str]:
    """Encrypt a file of class indices for a challenge on the server (``info``: its
    definition), with pads the trustees make for a pad request ``identity`` signs (progress
    bars while waiting and encrypting). Returns the bundle's bytes and digest."""
    from cryptoscore.threshold.ceremony import CeremonyRecord
    from cryptoscore_cli.pad_client import fetch_pads

    public = cs.PublicContext.from_bytes(client.public_context(args.challenge))
    record = CeremonyRecord.from_bytes(client.ceremony_record(args.challenge))
    if public.key_id != info["key_id"] or record.key_id != info["key_id"]:
        raise CliError("the server's public files do not match the challenge's key id")
    indices = cs.load_class_indices(args.input)
    classes = int(info["classes"])
    split = (info.get("rules") or {}).get("split")
    if kind == "labels" and split:
        # docs/design.md, "Public/private split": the organizer draws the secret public part
        # (OS CSPRNG) and encrypts its labels one-hot over part and class (2K classes); the
        # mask leaves this process only inside the encryption
        from cryptoscore.scoring.encoding import draw_public_mask, split_label_indices

        mask = draw_public_mask(int(indices.size), int(split["public_items"]))
        indices = split_label_indices(indices, mask, classes)
        classes *= 2
    layout = Layout.for_params(public.params, int(indices.size), classes)
    trustees = [t.strip() for t in args.trustees.split(",") if t.strip()] if args.trustees else None
    with progress_bar(record.threshold, "trustee pads", args.quiet, "trustee") as answered:
        pads = fetch_pads(
            client,
            args.challenge,
            kind,
            record,
            public,
            layout.ciphertexts,
            identity=identity,
            trustees=trustees,
            timeout=args.pad_timeout,
            on_answer=answered,  # (answered, asked): the pad set may hold more than t
        )
    encrypt = cs.encrypt_labels if kind == "labels" else cs.encrypt_predictions
    with (
        tempfile.TemporaryDirectory() as tmp,
        progress_bar(layout.ciphertexts, f"encrypting {kind}", args.quiet) as progress,
    ):
        bundle = encrypt(
            indices,
            public,
            classes=classes,
            challenge=args.challenge,
            out=Path(tmp) / "bundle",
            progress=progress,
            pads=pads,
        )
        return bundle.to_bytes(), bundle.digest


# -- options several commands take --------------------------------------------------------------
def server_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--server",
        default=os.environ.get("CRYPTOSCORE_SERVER"),
        help="the service's URL (default: $CRYPTOSCORE_SERVER)",
    )
    token = p.add_mutually_exclusive_group()
    token.add_argument(
        "--token",
        default=os.environ.get("CRYPTOSCORE_TOKEN"),
        help="bearer token (default: $CRYPTOSCORE_TOKEN); visible in `ps`: prefer the "
        "variable or --token-file",
    )
    token.add_argument(
        "--token-file",
        metavar="PATH",
        help="read the bearer token from this file's first line",
    )


def upload_options(p: argparse.ArgumentParser) -> None:
    """What ``encrypt_for`` encrypts and for which challenge on which server."""
    server_options(p)
    p.add_argument("input", help="CSV with one column, or .npy")
    p.add_argument("--challenge", required=True)


def signer_options(p: argparse.ArgumentParser, identity_help: str) -> None:
    """Who signs an upload and its pad request, which trustees make its pads, and -q."""
    identity_options(p, identity_help)
    p.add_argument(
        "--trustees",
        help="comma-separated roster ids of the trustees to ask for encryption pads, who also "
        "answer the bundle's round 1 and its score: at least t for a Shamir-answer ceremony "
        "(fewer than 2t - 1 and its releases are not checked against lying trustees), exactly "
        "t for an additive one (default: every trustee not named a liar, or the t seen most "
        "recently)",
    )
    p.add_argument(
        "--pad-timeout",
        type=float,
        default=600.0,
        help="seconds to wait for the trustees' pads (default 600)",
    )
    p.add_argument("-q", "--quiet", action="store_true")


def identity_options(p: argparse.ArgumentParser, identity_help: str) -> None:
    p.add_argument("--identity", required=True, metavar="DIR", help=identity_help)
    p.add_argument(
        "--passphrase-env",
        metavar="VAR",
        help="read the identity passphrase from this variable (default: type it once)",
    )
