"""Organizer and participant identities in the CLI: `identity init`, the rules `challenge
create` sends, `enrol`, the signatures on pad requests and uploads, and the refusals of
`labels upload` and `submit` before any trustee work. Against a fake service (no HTTP)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest

from cryptoscore import EncryptedBundle, PublicContext
from cryptoscore.identity import Identity, PublicKey
from cryptoscore.protocol.signed_inputs import Enrolment, pad_request_message, verify_upload
from cryptoscore_cli import api
from cryptoscore_cli.api import ApiError, ProtocolClient
from cryptoscore_cli.errors import CliError
from cryptoscore_cli.main import main, read_invited
from cryptoscore_cli.pad_client import fetch_pads

PASSPHRASE = "identity passphrase"


@pytest.fixture
def passphrase_env(monkeypatch) -> str:
    monkeypatch.setenv("ID_PASS", PASSPHRASE)
    return "ID_PASS"


@pytest.fixture
def prompts(monkeypatch, terminal) -> list[str]:
    """Every passphrase prompt (getpass, at a terminal), each answered with PASSPHRASE."""
    asked: list[str] = []

    def getpass(prompt: str = "") -> str:
        asked.append(prompt)
        return PASSPHRASE

    monkeypatch.setattr("getpass.getpass", getpass)
    return asked


def _init(tmp_path, name: str, capsys) -> str:
    """`identity init` into tmp_path/name; its public key (hex)."""
    out = tmp_path / name
    assert main(["identity", "init", "--out", str(out), "--passphrase-env", "ID_PASS"]) == 0
    capsys.readouterr()
    return (out / "identity.pub").read_text().strip()


def _one_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


# -- identity init ----------------------------------------------------------------------------
def test_identity_init_writes_an_encrypted_identity(tmp_path, passphrase_env, capsys):
    out = tmp_path / "org"
    assert main(["identity", "init", "--out", str(out), "--passphrase-env", passphrase_env]) == 0
    public = (out / "identity.pub").read_text()
    assert public.endswith("\n") and len(public) == 65
    assert capsys.readouterr().out.splitlines() == [
        f"identity written to {out}/identity.pem (encrypted) and {out}/identity.pub",
        f"public key: {public.strip()}",
    ]
    assert (out / "identity.pem").stat().st_mode & 0o077 == 0
    pem = (out / "identity.pem").read_bytes()
    assert b"ENCRYPTED PRIVATE KEY" in pem
    assert Identity.from_pem(pem, PASSPHRASE.encode()).public_key.hex() == public.strip()
    # never overwrites an identity
    assert main(["identity", "init", "--out", str(out), "--passphrase-env", passphrase_env]) == 2
    assert _one_error(capsys) == (
        f"cryptoscore: error: {out}/identity.pem exists: refusing to overwrite an identity"
    )
    assert (out / "identity.pem").read_bytes() == pem


def test_identity_init_types_the_passphrase_twice(tmp_path, prompts, capsys):
    out = tmp_path / "ann"
    assert main(["identity", "init", "--out", str(out)]) == 0
    assert prompts == ["identity passphrase: ", "again: "]
    Identity.from_pem((out / "identity.pem").read_bytes(), PASSPHRASE.encode())


def test_identity_init_refusals(tmp_path, monkeypatch, terminal, capsys):
    monkeypatch.delenv("NO_SUCH_VAR", raising=False)
    out = tmp_path / "a"
    assert main(["identity", "init", "--out", str(out), "--passphrase-env", "NO_SUCH_VAR"]) == 2
    assert _one_error(capsys) == "cryptoscore: error: environment variable NO_SUCH_VAR is not set"
    assert not (out / "identity.pem").exists()
    answers = iter(["first passphrase", "second passphrase"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert main(["identity", "init", "--out", str(out)]) == 2
    assert _one_error(capsys) == "cryptoscore: error: the passphrases differ"
    monkeypatch.setenv("SHORT", "short")
    assert main(["identity", "init", "--out", str(out), "--passphrase-env", "SHORT"]) == 2
    assert _one_error(capsys) == (
        "cryptoscore: error: the identity passphrase must have at least 8 bytes"
    )
    assert not (out / "identity.pem").exists()


def test_trustee_init_still_says_what_it_did(tmp_path, passphrase_env, capsys):
    out = tmp_path / "trustee-1"
    assert main(["trustee", "init", "--out", str(out), "--passphrase-env", passphrase_env]) == 0
    public = (out / "identity.pub").read_text().strip()
    assert capsys.readouterr().out.splitlines() == [
        f"trustee identity written to {out}/identity.pem (encrypted)",
        f"give the organizer your public key (for the ceremony's roster): {public}",
    ]
    assert main(["trustee", "init", "--out", str(out), "--passphrase-env", passphrase_env]) == 2
    assert _one_error(capsys) == (
        f"cryptoscore: error: {out}/identity.pem exists: refusing to overwrite a trustee identity"
    )


# -- --invite files ---------------------------------------------------------------------------
def test_read_invited_skips_blank_lines_and_comments(tmp_path):
    ann, bob = Identity.generate().public_key.hex(), Identity.generate().public_key.hex()
    path = tmp_path / "invited.txt"
    path.write_text(f"# the invited\n\n{ann}\n  {bob.upper()}   # bob, upper-case\n\n# end\n")
    assert read_invited(str(path)) == [ann, bob]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{ann}\nnot a key\n", "{path}:2: not an Ed25519 public key (64 hex digits)"),
        ("{ann}\n{ann_short}\n", "{path}:2: not an Ed25519 public key (64 hex digits)"),
        ("{ann} {ann}\n", "{path}:1: not an Ed25519 public key (64 hex digits)"),
        ("{ann}\n# again\n{ann}\n", "{path}:3: {ann16}… is already invited on line 1"),
        ("# nobody\n\n", "{path}: no public keys to invite"),
        ("", "{path}: no public keys to invite"),
    ],
)
def test_read_invited_refusals(tmp_path, capsys, text, message):
    ann = Identity.generate().public_key.hex()
    path = tmp_path / "invited.txt"
    subst = {"ann": ann, "ann_short": ann[:62], "ann16": ann[:16], "path": str(path)}
    path.write_text(text.format(**subst))
    with pytest.raises(CliError) as caught:
        read_invited(str(path))
    assert str(caught.value) == message.format(**subst)


def test_read_invited_needs_a_readable_text_file(tmp_path):
    (tmp_path / "binary").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(CliError) as caught:
        read_invited(str(tmp_path / "binary"))
    assert str(caught.value) == f"{tmp_path}/binary: not a text file of hex public keys"
    with pytest.raises(CliError) as caught:
        read_invited(str(tmp_path / "missing"))
    assert str(caught.value) == f"cannot read {tmp_path}/missing: No such file or directory"


# -- challenge create -------------------------------------------------------------------------
class _Organizer:
    """The service as `challenge create` sees it: it keeps the definition it is sent."""

    def __init__(self) -> None:
        self.definitions: list[dict[str, Any]] = []

    def create_challenge(self, definition: dict[str, Any], *files: bytes, upload=None) -> Any:
        assert list(files) == [b"record", b"public", b"evaluation"]
        self.definitions.append(definition)
        return {"id": definition["id"]}


@pytest.fixture
def organizer_service(tmp_path, monkeypatch) -> _Organizer:
    service = _Organizer()
    monkeypatch.setattr(api, "Client", lambda server, token: service)
    ceremony = tmp_path / "ceremony"
    ceremony.mkdir()
    (ceremony / "ceremony.record").write_bytes(b"record")
    (ceremony / "public.ctx").write_bytes(b"public")
    (ceremony / "evaluation.keys").write_bytes(b"evaluation")
    return service


def _create(tmp_path, *extra: str) -> list[str]:
    return [
        "challenge",
        "create",
        "--server",
        "http://service",
        "--token",
        "t",
        "--id",
        "c1",
        "--classes",
        "3",
        "--n-items",
        "300",
        "--opens",
        "2030-01-01T00:00:00+00:00",
        "--closes",
        "2030-01-08T00:00:00+00:00",
        "--ceremony",
        str(tmp_path / "ceremony"),
        *extra,
    ]


def test_challenge_create_sends_the_rules(tmp_path, passphrase_env, organizer_service, capsys):
    org = _init(tmp_path, "org", capsys)
    ann, bob = _init(tmp_path, "ann", capsys), _init(tmp_path, "bob", capsys)
    args = ("--organizer", str(tmp_path / "org"), "--max-enrolled", "50")
    assert main(_create(tmp_path, *args)) == 0
    assert json.loads(capsys.readouterr().out) == {"id": "c1"}
    invited = tmp_path / "invited.txt"
    invited.write_text(f"{ann}  # ann\n\n{bob}\n")
    assert (
        main(
            _create(
                tmp_path,
                "--organizer",
                str(tmp_path / "org"),
                "--enrolment",
                "invite",
                "--invite",
                str(invited),
                "--pad-requests-per-day",
                "7",
                "--limit-per-day",
                "3",
            )
        )
        == 0
    )
    common = {
        "id": "c1",
        "name": "c1",
        "classes": 3,
        "n_items": 300,
        "metrics": ["correct", "errors"],
        "opens_at": "2030-01-01T00:00:00+00:00",
        "closes_at": "2030-01-08T00:00:00+00:00",
        "organizer_key": org,
    }
    assert organizer_service.definitions == [
        common
        | {"submission_limit_per_day": 5, "enrolment": "open", "invited": [], "max_enrolled": 50},
        common
        | {
            "submission_limit_per_day": 3,
            "enrolment": "invite",
            "invited": [ann, bob],
            "pad_requests_per_day": 7,
        },
    ]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--organizer", "{tmp}/org", "--enrolment", "invite"],
            "--enrolment invite needs --invite FILE (the invited public keys)",
        ),
        (
            ["--organizer", "{tmp}/org", "--invite", "{tmp}/invited.txt"],
            "--invite is only for --enrolment invite",
        ),
        (
            ["--organizer", "{tmp}/org", "--enrolment", "invite", "--invite", "{tmp}/none.txt"],
            "cannot read {tmp}/none.txt: No such file or directory",
        ),
        (
            ["--organizer", "{tmp}/nobody"],
            "cannot read {tmp}/nobody/identity.pub: No such file or directory",
        ),
        (["--organizer", "{tmp}/bad"], "{tmp}/bad/identity.pub: not an Ed25519 public key"),
    ],
)
def test_challenge_create_refusals(
    tmp_path, passphrase_env, organizer_service, capsys, extra, message
):
    _init(tmp_path, "org", capsys)
    (tmp_path / "invited.txt").write_text(Identity.generate().public_key.hex() + "\n")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "identity.pub").write_text("00" * 31 + "\n")
    assert main(_create(tmp_path, *(a.format(tmp=tmp_path) for a in extra))) == 2
    assert _one_error(capsys).startswith(f"cryptoscore: error: {message.format(tmp=tmp_path)}")
    assert organizer_service.definitions == []


def test_challenge_create_states_the_label_leakage(
    tmp_path, passphrase_env, organizer_service, capsys
):
    """Before anything is sent: two warning lines (the leakage statement), then a refusal in
    one line (exit 2, nothing sent) where one identity recovers every label before the close
    or open enrolment has no cap — unless --accept-label-leakage."""
    _init(tmp_path, "org", capsys)
    org = ("--organizer", str(tmp_path / "org"))
    capped = (*org, "--max-enrolled", "20")
    assert main(_create(tmp_path, *capped)) == 0
    warning = capsys.readouterr().err.strip().splitlines()
    assert warning == [
        "warning: policy correct,errors on 300 items, K=3, releases exact counts (at most 5.19 "
        "labels' worth each): one identity can recover 1 label per submission, 34 of 300 "
        "labels before the close at 5 a day (all in 61 days); the challenge is open 7 days",
        "warning: 20 enrolled identities, pooling, recover all 300 labels in 4 days",
    ]
    assert len(organizer_service.definitions) == 1

    assert main(_create(tmp_path, *org)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[:-1] == [warning[0], err[1]] and err[1].startswith("warning: open enrolment")
    assert err[-1] == (
        "cryptoscore: error: refusing to create the challenge: open enrolment without a cap "
        "lets any number of identities recover labels: give --max-enrolled N or --enrolment "
        "invite, or pass --accept-label-leakage"
    )
    leaky = (*capped, "--metrics", "confusion", "--limit-per-day", "50")
    assert main(_create(tmp_path, *leaky)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "one identity can recover 2 labels per submission, all 300 labels in 3 days" in err[0]
    assert err[-1] == (
        "cryptoscore: error: refusing to create the challenge: one identity can recover all "
        "300 labels before the close (3 of 7 days at 50 a day): lower --limit-per-day, close "
        "earlier, release fewer aggregates, or pass --accept-label-leakage"
    )
    assert len(organizer_service.definitions) == 1  # nothing sent

    assert main(_create(tmp_path, *leaky, "--accept-label-leakage")) == 0
    assert main(_create(tmp_path, *org, "--accept-label-leakage")) == 0
    assert len(organizer_service.definitions) == 3
    assert "--accept" not in json.dumps(organizer_service.definitions)
    invited = tmp_path / "invited.txt"
    invited.write_text(Identity.generate().public_key.hex() + "\n")
    capsys.readouterr()
    invite = ("--enrolment", "invite", "--invite", str(invited), "--max-enrolled", "2")
    assert main(_create(tmp_path, *org, *invite)) == 2
    assert _one_error(capsys) == (
        "cryptoscore: error: --max-enrolled caps open enrolment; an invite list is its own cap"
    )


def test_challenge_create_needs_an_organizer(tmp_path, organizer_service, capsys):
    with pytest.raises(SystemExit) as exited:
        main(_create(tmp_path))
    assert exited.value.code == 2
    assert "the following arguments are required: --organizer" in capsys.readouterr().err


# -- enrol, labels upload, submit ---------------------------------------------------------------
class _Service:
    """A service that knows one challenge; any call not defined here fails the test (the
    refusals below must happen before public files are fetched or pads are asked for)."""

    def __init__(
        self,
        rules: dict[str, Any] | None = None,
        enrolled: str | None = None,
        key_id: str = "k" * 64,
    ) -> None:
        self.rules = rules
        self.enrolled = enrolled
        self.key_id = key_id
        self.calls: list[str] = []
        self.records: list[bytes] = []

    def challenge(self, challenge_id: str) -> dict[str, Any]:
        self.calls.append("challenge")
        if challenge_id != "c1":
            raise ApiError(404, "Not Found: no challenge " + challenge_id)
        return {"id": "c1", "key_id": self.key_id, "classes": 3, "rules": self.rules}

    def enrolment(self, challenge_id: str) -> dict[str, Any]:
        self.calls.append("enrolment")
        if self.enrolled is None:
            raise ApiError(404, "Not Found: no enrolment")
        return {"challenge": challenge_id, "identity": self.enrolled, "name": "ann"}

    def enrol(self, challenge_id: str, record: bytes) -> dict[str, Any]:
        self.calls.append("enrol")
        self.records.append(record)
        parsed = Enrolment.from_bytes(record)
        return {"challenge": challenge_id, "identity": parsed.identity.hex(), "name": parsed.name}

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the CLI called {name} on the service")


def _serve(monkeypatch, service: _Service) -> _Service:
    monkeypatch.setattr(api, "ProtocolClient", lambda server, token: service)
    return service


def _server_args(*argv: str) -> list[str]:
    return [*argv, "--server", "http://service", "--token", "t"]


def test_enrol_signs_and_posts_an_enrolment(tmp_path, passphrase_env, prompts, monkeypatch, capsys):
    ann = _init(tmp_path, "ann", capsys)
    service = _serve(monkeypatch, _Service())
    enrol = ["enrol", "--challenge", "c1", "--identity", str(tmp_path / "ann"), "--name", "ann"]
    assert main(_server_args(*enrol)) == 0
    assert prompts == ["identity passphrase: "]  # opening an identity asks once
    assert capsys.readouterr().out == f"enrolled ann in c1 as {ann[:16]}…\n"
    (record,) = service.records
    enrolment = Enrolment.from_bytes(record)
    enrolment.verify()
    assert (enrolment.challenge_id, enrolment.identity.hex(), enrolment.name) == ("c1", ann, "ann")


def test_enrol_refusals(tmp_path, passphrase_env, monkeypatch, capsys):
    _init(tmp_path, "ann", capsys)
    service = _serve(monkeypatch, _Service())
    enrol = ["enrol", "--challenge", "c1", "--identity", str(tmp_path / "ann")]
    monkeypatch.setenv("WRONG", "not the passphrase")
    assert main(_server_args(*enrol, "--name", "ann", "--passphrase-env", "WRONG")) == 2
    assert _one_error(capsys) == (
        f"cryptoscore: error: {tmp_path}/ann/identity.pem: cannot open the identity file: "
        "wrong passphrase or corrupt"
    )
    assert main(_server_args(*enrol, "--name", "a\tb", "--passphrase-env", "ID_PASS")) == 2
    assert _one_error(capsys) == (
        "cryptoscore: error: enrolment: name must be 1..64 printable characters"
    )
    nobody = ["enrol", "--challenge", "c1", "--identity", str(tmp_path / "nobody")]
    assert main(_server_args(*nobody, "--name", "x", "--passphrase-env", "ID_PASS")) == 2
    assert _one_error(capsys).startswith(
        f"cryptoscore: error: cannot read {tmp_path}/nobody/identity.pem"
    )
    assert main([*enrol, "--name", "ann", "--server", ""]) == 2
    assert _one_error(capsys) == (
        "cryptoscore: error: no server: pass --server URL or set CRYPTOSCORE_SERVER"
    )
    assert service.records == []


def _upload(tmp_path, command: list[str], who: str) -> list[str]:
    (tmp_path / "y.csv").write_text("0\n1\n2\n")
    return _server_args(
        *command,
        str(tmp_path / "y.csv"),
        "--challenge",
        "c1",
        "--identity",
        str(tmp_path / who),
        "--passphrase-env",
        "ID_PASS",
        "-q",
    )


def _rules(organizer: str) -> dict[str, Any]:
    return {
        "organizer": organizer,
        "enrolment": "open",
        "invited": [],
        "submissions_per_day": 5,
        "pad_requests_per_day": 10,
    }


def test_submit_refuses_before_enrolment(tmp_path, passphrase_env, monkeypatch, capsys):
    org = _init(tmp_path, "org", capsys)
    _init(tmp_path, "ann", capsys)
    service = _serve(monkeypatch, _Service(_rules(org)))
    monkeypatch.setattr("getpass.getpass", lambda prompt="": pytest.fail("asked a passphrase"))
    submit = _upload(tmp_path, ["submit"], "ann")
    submit.remove("--passphrase-env")
    submit.remove("ID_PASS")
    assert main(submit) == 2
    assert _one_error(capsys) == (
        "cryptoscore: error: not enrolled in c1: run `cryptoscore enrol` first"
    )
    assert service.calls == ["challenge", "enrolment"]


def test_submit_of_an_unknown_challenge_is_not_a_missing_enrolment(
    tmp_path, passphrase_env, monkeypatch, capsys
):
    _init(tmp_path, "ann", capsys)
    service = _serve(monkeypatch, _Service())
    submit = _upload(tmp_path, ["submit"], "ann")
    submit[submit.index("c1")] = "c2"
    assert main(submit) == 2
    assert _one_error(capsys) == "cryptoscore: error: HTTP 404: Not Found: no challenge c2"
    assert service.calls == ["challenge"]


def test_submit_refuses_another_identity(tmp_path, passphrase_env, monkeypatch, capsys):
    org = _init(tmp_path, "org", capsys)
    ann = _init(tmp_path, "ann", capsys)
    _init(tmp_path, "bob", capsys)
    service = _serve(monkeypatch, _Service(_rules(org), enrolled=ann))
    assert main(_upload(tmp_path, ["submit"], "bob")) == 2
    assert _one_error(capsys) == (
        f"cryptoscore: error: this identity is not the one enrolled in c1 ({ann[:16]}…)"
    )
    assert service.calls == ["challenge", "enrolment"]


def test_labels_upload_refuses_a_key_other_than_the_organizer(
    tmp_path, passphrase_env, monkeypatch, capsys
):
    org = _init(tmp_path, "org", capsys)
    _init(tmp_path, "ann", capsys)
    service = _serve(monkeypatch, _Service(_rules(org)))
    assert main(_upload(tmp_path, ["labels", "upload"], "ann")) == 2
    assert _one_error(capsys) == (
        "cryptoscore: error: this identity is not the challenge's organizer key"
    )
    assert service.calls == ["challenge"]


def test_labels_upload_refuses_a_challenge_without_rules(
    tmp_path, passphrase_env, monkeypatch, capsys
):
    _init(tmp_path, "org", capsys)
    _serve(monkeypatch, _Service(rules=None))
    assert main(_upload(tmp_path, ["labels", "upload"], "org")) == 2
    assert _one_error(capsys) == (
        "cryptoscore: error: challenge c1 predates signed inputs: it names no organizer key"
    )


@pytest.mark.parametrize("command", [["submit"], ["labels", "upload"]])
def test_uploads_need_an_identity(tmp_path, capsys, command):
    (tmp_path / "y.csv").write_text("0\n")
    with pytest.raises(SystemExit) as exited:
        main([*command, str(tmp_path / "y.csv"), "--challenge", "c1", "--server", "http://s"])
    assert exited.value.code == 2
    assert "the following arguments are required: --identity" in capsys.readouterr().err


class _Uploads(_Service):
    """A service with a challenge's real public files that keeps what is uploaded."""

    def __init__(self, ceremony: Path, **kwargs: Any) -> None:
        self.public = (ceremony / "public.ctx").read_bytes()
        self.record = (ceremony / "ceremony.record").read_bytes()
        super().__init__(key_id=PublicContext.from_bytes(self.public).key_id, **kwargs)
        self.uploads: list[tuple[str, bytes, bytes]] = []

    def challenge(self, challenge_id: str) -> dict[str, Any]:
        info = super().challenge(challenge_id)  # what the checks before any pad read too
        params = PublicContext.from_bytes(self.public).params.ID
        return {**info, "params": params, "n_items": 3, "state": "open"}

    def labels_status(self, challenge_id: str) -> dict[str, Any]:
        self.calls.append("labels_status")
        return {"uploaded": False, "pad_requests": {"used": 0, "per_day": 10}}

    def public_context(self, challenge_id: str) -> bytes:
        self.calls.append("public_context")
        return self.public

    def ceremony_record(self, challenge_id: str) -> bytes:
        self.calls.append("ceremony_record")
        return self.record

    def upload_labels(self, challenge_id: str, bundle: bytes, signature: bytes, upload=None) -> Any:
        self.uploads.append(("labels", bundle, signature))
        return {"labels": EncryptedBundle.from_bytes(bundle).digest}

    def submit(self, challenge_id: str, bundle: bytes, signature: bytes, upload=None) -> Any:
        self.uploads.append(("predictions", bundle, signature))
        digest = EncryptedBundle.from_bytes(bundle).digest
        return {"submission": digest, "state": "queued", "receipt": {}}


def test_uploads_are_signed_by_the_identity(
    tmp_path, cli_committee, passphrase_env, monkeypatch, capsys
):
    org = _init(tmp_path, "org", capsys)
    ann = _init(tmp_path, "ann", capsys)
    service = _serve(monkeypatch, _Uploads(tmp_path / "ceremony", rules=_rules(org), enrolled=ann))
    signers: list[tuple[str, str]] = []

    def fetch_pads(client, challenge_id, kind, record, public, count, *, identity, **_: Any):
        signers.append((kind, identity.public_key.hex()))
        return None  # encrypt without trustee pads: the signatures are what is tested here

    monkeypatch.setattr("cryptoscore_cli.pad_client.fetch_pads", fetch_pads)
    assert main(_upload(tmp_path, ["labels", "upload"], "org")) == 0
    assert main(_upload(tmp_path, ["submit"], "ann")) == 0
    assert signers == [("labels", org), ("predictions", ann)]
    assert service.calls == [
        *("challenge", "labels_status", "public_context", "ceremony_record"),
        *("challenge", "enrolment", "public_context", "ceremony_record"),
    ]
    for (kind, bundle, signature), signer in zip(service.uploads, (org, ann), strict=True):
        digest = EncryptedBundle.from_bytes(bundle).digest
        verify_upload(PublicKey.from_hex(signer), signature, "c1", kind, digest)
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"submission {EncryptedBundle.from_bytes(service.uploads[1][1]).digest}: queued"
    )


# -- what goes over the wire --------------------------------------------------------------------
class _Stop(Exception):
    pass


def test_fetch_pads_signs_the_pad_request():
    identity = Identity.generate()
    asked: list[tuple[Any, ...]] = []

    class Asked:
        def request_pads(self, *args: Any, signature: bytes) -> Any:
            asked.append((*args, signature))
            raise _Stop

    keys = SimpleNamespace(key_id="k" * 64)
    with pytest.raises(_Stop):
        fetch_pads(Asked(), "c1", "labels", keys, keys, 4, identity=identity, trustees=["t1"])
    ((challenge, kind, seed, recipient, trustees, signature),) = asked
    assert (challenge, kind, trustees) == ("c1", "labels", ["t1"])
    assert len(seed) == 32 and len(recipient) == 32
    message = pad_request_message("c1", "labels", seed, recipient)
    identity.public_key.verify(signature, message, "pad request")
    other = PublicKey(Identity.generate().public_key.raw)
    with pytest.raises(Exception, match="does not verify"):
        other.verify(signature, message, "pad request")


def test_protocol_client_sends_signatures_and_enrolments(monkeypatch):
    sent: list[Any] = []

    class Response:
        status = 201
        headers: ClassVar[dict[str, str]] = {"Content-Type": "application/json"}

        def __enter__(self) -> Response:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def read(self) -> bytes:
            return b'{"ok": true}'

    def urlopen(req: Any, timeout: float) -> Response:
        sent.append(req)
        return Response()

    monkeypatch.setattr(api.urllib.request, "urlopen", urlopen)
    client = ProtocolClient("http://service/", "tok")
    signature = bytes(range(64))
    identity = Identity.generate()
    record = Enrolment.sign(identity, "c1", "ann").to_bytes()
    assert client.upload_labels("c1", b"labels", signature) == {"ok": True}
    client.submit("c1", b"predictions", signature)
    client.request_pads("c1", "predictions", b"\x01" * 32, b"\x02" * 32, signature=signature)
    client.enrol("c1", record)
    client.enrolment("c1")
    got = [
        (r.get_method(), r.full_url, r.data, r.get_header("X-cryptoscore-signature")) for r in sent
    ]
    base = "http://service/api/v1/challenges/c1"
    assert got[:2] == [
        ("POST", f"{base}/labels", b"labels", signature.hex()),
        ("POST", f"{base}/submissions", b"predictions", signature.hex()),
    ]
    assert got[2][:2] == ("POST", f"{base}/pads") and got[2][3] is None
    assert json.loads(got[2][2]) == {
        "kind": "predictions",
        "seed": "01" * 32,
        "recipient": "02" * 32,
        "signature": signature.hex(),
    }
    assert got[3] == ("POST", f"{base}/enrolment", record, None)
    assert sent[3].get_header("Content-type") == "application/octet-stream"
    assert got[4] == ("GET", f"{base}/enrolment", None, None)
    assert all(r.get_header("Authorization") == "Bearer tok" for r in sent)


def test_challenge_create_with_dp_states_its_guarantee(
    tmp_path, passphrase_env, organizer_service, capsys
):
    """--dp-rho R --dp-budget B: the rule is sent with the definition, the first warning line
    states the per-participant guarantee (rho_total, epsilon at delta 1e-6, the label bound)
    in place of the exact counts' leakage, and a leaky policy is no longer refused for it;
    one flag without the other, a budget below rho, or --ladder-margin beside them is one error
    line and nothing sent."""
    _init(tmp_path, "org", capsys)
    org = ("--organizer", str(tmp_path / "org"), "--max-enrolled", "20")
    leaky = (*org, "--metrics", "confusion", "--limit-per-day", "50")
    assert main(_create(tmp_path, *leaky, "--dp-rho", "0.01", "--dp-budget", "0.1")) == 0
    first = capsys.readouterr().err.strip().splitlines()[0]
    assert first.startswith(
        "policy confusion on 300 items, K=3, releases counts with discrete Gaussian noise added "
        "by every trustee: rho = 0.01 per release (zCDP), budget rho_total = 0.1 per identity "
        "(10 releases), i.e. (epsilon = "
    )
    assert "against t-1 trustees colluding with it" in first
    assert organizer_service.definitions[-1]["dp"] == {"rho": 0.01, "budget": 0.1}
    assert main(_create(tmp_path, *org, "--dp-rho", "0.01")) == 2
    assert _one_error(capsys) == (
        "cryptoscore: error: differential privacy needs both --dp-rho R and --dp-budget B"
    )
    assert main(_create(tmp_path, *org, "--dp-rho", "0.5", "--dp-budget", "0.1")) == 2
    assert _one_error(capsys).startswith("cryptoscore: error: --dp-rho/--dp-budget: dp: the budget")
    dp = ("--dp-rho", "0.01", "--dp-budget", "0.1")
    assert main(_create(tmp_path, *org, *dp, "--ladder-margin", "0.01")) == 2
    assert _one_error(capsys) == (
        "cryptoscore: error: --ladder-margin with --dp-rho: dp and the Ladder cannot be "
        "combined: choose differential-privacy noise or the Ladder"
    )
    assert len(organizer_service.definitions) == 1
