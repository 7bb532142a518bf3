"""The CLI walks the whole single-key flow; every error is one line and a non-zero exit."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cryptoscore_cli.main import main


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    assert main(["keygen", "--out", str(d / "keys"), "--params", "bfv-8192"]) == 0
    return d


def test_full_flow_matches_numpy(workdir, capsys):
    gen = np.random.default_rng(3)
    y = gen.integers(0, 3, 9000)
    p = np.where(gen.random(9000) < 0.6, y, gen.integers(0, 3, 9000))
    (workdir / "p.csv").write_text("prediction\n" + "\n".join(map(str, p)) + "\n")
    np.save(workdir / "y.npy", y)
    k = workdir / "keys"
    common = ["--public", str(k / "public.ctx"), "--classes", "3", "--challenge", "c", "-q"]
    assert main(["encrypt", str(workdir / "p.csv"), *common, "-o", str(workdir / "p.b")]) == 0
    assert (
        main(
            [
                "encrypt",
                str(workdir / "y.npy"),
                *common,
                "--kind",
                "labels",
                "-o",
                str(workdir / "y.b"),
            ]
        )
        == 0
    )
    ev = ["--evaluation-keys", str(k / "evaluation.keys"), "-q"]
    assert main(["validity", str(workdir / "p.b"), *ev, "-o", str(workdir / "v.agg")]) == 0
    assert (
        main(
            [
                "score",
                str(workdir / "p.b"),
                str(workdir / "y.b"),
                *ev,
                "--metrics",
                "correct,confusion",
                "-o",
                str(workdir / "s.agg"),
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["decrypt", str(workdir / "v.agg"), "--secret-key", str(k / "secret.key")]) == 0
    assert set(json.loads(capsys.readouterr().out).values()) == {0}
    assert main(["decrypt", str(workdir / "s.agg"), "--secret-key", str(k / "secret.key")]) == 0
    released = json.loads(capsys.readouterr().out)
    assert released["correct"] == int(np.count_nonzero(p == y))
    assert released["confusion:2:0"] == int(np.count_nonzero((p == 2) & (y == 0)))
    assert (k / "secret.key").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["decrypt", "missing.agg", "--secret-key", "nope"], "cannot read"),
        (
            [
                "validity",
                "{bundle}",
                "--evaluation-keys",
                "{keys}/evaluation.keys",
                "--seed",
                "zz",
                "-o",
                "x",
            ],
            "non-hexadecimal",
        ),
        (
            [
                "score",
                "{bundle}",
                "{bundle}",
                "--evaluation-keys",
                "{keys}/evaluation.keys",
                "-o",
                "x",
            ],
            "kind is 'predictions', expected 'labels'",
        ),
        (
            [
                "encrypt",
                "{csv}",
                "--public",
                "{keys}/public.ctx",
                "--classes",
                "2",
                "--challenge",
                "c",
                "-o",
                "x",
            ],
            "class index 5 at item 2 is outside 0..1",
        ),
        (["decrypt", "{bundle}", "--secret-key", "{keys}/secret.key"], "wrong record type"),
    ],
)
def test_errors_are_one_line(workdir, capsys, argv, message):
    csv = workdir / "bad.csv"
    csv.write_text("1\n5\n")
    good = workdir / "good.csv"
    good.write_text("1\n0\n1\n")
    bundle = workdir / "one.b"
    if not bundle.exists():
        enc = ["encrypt", str(good), "--public", str(workdir / "keys/public.ctx")]
        assert main([*enc, "--classes", "2", "--challenge", "c", "-q", "-o", str(bundle)]) == 0
    subst = {"bundle": str(bundle), "keys": str(workdir / "keys"), "csv": str(csv)}
    capsys.readouterr()
    code = main([a.format(**subst) for a in argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("cryptoscore: error: ") and message in err[0]


def test_trustee_init_and_ceremony(cli_committee, tmp_path, capsys):
    from cryptoscore.identity import TrusteeIdentity
    from cryptoscore.threshold.ceremony import CeremonyRecord, open_share_file

    init = ["trustee", "init", "--out", str(tmp_path / "trustee-1"), "--passphrase-env", "ID_PASS"]
    assert main(init) == 2  # never overwrites an identity
    out = tmp_path / "ceremony"
    record = CeremonyRecord.from_bytes((out / "ceremony.record").read_bytes())
    assert record.threshold == 2 and [e.trustee_id for e in record.roster] == list(cli_committee)
    share = (out / "share-trustee-2.bin").read_bytes()
    record.check_share_file("trustee-2", share)
    assert open_share_file(share, b"share passphrase trustee-2").trustee_id == "trustee-2"
    assert (out / "share-trustee-2.bin").stat().st_mode & 0o077 == 0
    ident = TrusteeIdentity.from_pem(
        (tmp_path / "trustee-1" / "identity.pem").read_bytes(), b"identity passphrase"
    )
    assert ident.public_key == record.entry("trustee-1").public_key
    (tmp_path / "bad.json").write_text("{}")
    capsys.readouterr()
    assert (
        main(
            [
                "ceremony",
                "deal",
                "--roster",
                str(tmp_path / "bad.json"),
                "--threshold",
                "2",
                "--out",
                str(out),
            ]
        )
        == 2
    )
    assert "expected a JSON list" in capsys.readouterr().err


def test_params_says_which_set_has_proven_smudging(capsys):
    assert main(["params"]) == 0
    described = {p["id"]: p for p in json.loads(capsys.readouterr().out)}
    assert described["bfv-16384"]["threshold_smudging"] == "proven worst case"
    assert described["bfv-8192"]["threshold_smudging"].startswith("heuristic")
    # whole-transcript figures: 3 additive partials; Shamir answers 3 of 5 (C(5, 2) = 10 draws)
    totals = {
        (pid, kind): described[pid][kind]["statistical_distance_log2"]["total"]
        for pid in described
        for kind in ("transcript_exposure", "transcript_exposure_shamir")
    }
    assert totals == {
        ("bfv-8192", "transcript_exposure"): -19.6,
        ("bfv-8192", "transcript_exposure_shamir"): -15.0,
        ("bfv-16384", "transcript_exposure"): -78.3,
        ("bfv-16384", "transcript_exposure_shamir"): -75.9,
    }
