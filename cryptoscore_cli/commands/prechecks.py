"""What ``labels upload`` and ``submit`` check before they ask the trustees for pads.

Making pads costs every trustee of the set seconds per request, and each request counts
against the uploader's daily pad quota; so everything the service would refuse afterwards
and the client can know beforehand is checked first, and said in one line: the challenge's
window, labels already uploaded, a daily limit used up, the file's number of items and its
class indices. Only the challenge's public definition, the labels' status and the caller's
enrolment (with its quota use) are read; nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cryptoscore_cli.errors import CliError

__all__ = ["check_input", "check_open", "check_quota"]

_QUOTA_WORDS = {"submissions": "submissions", "pad_requests": "pad requests"}


def check_open(info: Mapping[str, Any], kind: str) -> None:
    """Predictions only while the challenge is open, labels until it closes."""
    state = info.get("state")
    if state == "closed" or (kind == "predictions" and state == "upcoming"):
        raise CliError(
            f"challenge {info['id']} is {state}: it takes submissions from {info['opens_at']} "
            f"to {info['closes_at']}"
        )


def check_quota(quota: Mapping[str, Mapping[str, int]]) -> None:
    """Refuse when a daily limit (``{kind: {"used", "per_day"}}``) is used up."""
    for kind, use in quota.items():
        if use["used"] >= use["per_day"]:
            what = _QUOTA_WORDS.get(kind, kind)
            raise CliError(
                f"the daily limit is used up: {use['used']} of {use['per_day']} {what} in the "
                "last 24 hours; try again later"
            )


def check_input(path: str, info: Mapping[str, Any]) -> None:
    """The file holds the challenge's number of items, each a class index in range."""
    import cryptoscore as cs
    from cryptoscore.errors import InputError
    from cryptoscore.scoring.encoding import slot_vectors

    indices = cs.load_class_indices(path)
    try:
        layout, _ = slot_vectors(indices, cs.get_parameter_set(info["params"]), info["classes"])
    except InputError as exc:
        raise CliError(f"{path}: {exc}") from None
    if layout.n != info["n_items"]:
        raise CliError(f"{path}: {layout.n} items; challenge {info['id']} has {info['n_items']}")
