"""`challenge create --pad-sets any` (docs/design.md, "Checked pad sets"): it prints what it
gives up, the service keeps it in the rules and shows it with the challenge; the default
(checked) writes nothing."""

from __future__ import annotations

from cryptoscore.protocol.rules import PAD_SETS_ANY_WARNING
from cryptoscore_cli.api import ProtocolClient
from tests.cli.test_split_cli import _run, cli_challenge


def test_pad_sets_any_with_the_cli(server, cli_committee, tmp_path, capsys):
    _organizer, _tokens, _ann, create = cli_challenge(
        server, cli_committee, tmp_path, capsys, "anysets"
    )
    code, _, err = _run([*create, "--pad-sets", "any"], capsys)
    assert code == 0, err
    assert PAD_SETS_ANY_WARNING in err.splitlines()
    shown = ProtocolClient(server).challenge("anysets")
    assert (shown["rules"]["pad_sets"], shown["pad_sets"]) == ("any", "any")
    assert shown["pad_sets_warning"] == PAD_SETS_ANY_WARNING
    code, _, err = _run([*create[:7], "checkedsets", *create[8:]], capsys)
    assert code == 0, err
    assert PAD_SETS_ANY_WARNING not in err
    shown = ProtocolClient(server).challenge("checkedsets")
    assert "pad_sets" not in shown["rules"] and shown["pad_sets"] == "checked"
