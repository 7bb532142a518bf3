"""Every draw the library makes is injectable, and defaults to the OS CSPRNG
(``cryptoscore/randomness.py``).

Read from the source (``ast``): ``os.urandom`` appears only as the default of an ``rng``
(a trustee agent's ``randomness``); no key is generated from a source a caller cannot
replace; every public function taking an ``Rng`` defaults it to ``os.urandom``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "cryptoscore"

_PROBE = "cryptoscore/scoring/pad_request.py"
"""``_X25519_PROBE``: a key only ever used to test others' public keys (its shared secrets
are thrown away), so what it is drawn from reaches no output."""

_REQUIRED = {
    "cryptoscore/protocol/contributions.py:contribute(randomness)": "the trustee's journal "
    "store: drawn once per bundle, the same bytes ever after",
    "cryptoscore/scoring/encryption.py:__init__(rng)": "_PadEncryptor: the recipe's rng",
}
"""Public parameters of type ``Rng`` that are required on purpose, and why."""


def _is_urandom(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "urandom"
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


def _rng_parameters(tree: ast.AST):
    """(function, parameter, default or None) for every parameter annotated ``Rng``."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        a = node.args
        positional = [*a.posonlyargs, *a.args]
        defaults = [None] * (len(positional) - len(a.defaults)) + list(a.defaults)
        pairs = [
            *zip(positional, defaults, strict=True),
            *zip(a.kwonlyargs, a.kw_defaults, strict=True),
        ]
        for arg, default in pairs:
            if isinstance(arg.annotation, ast.Name) and arg.annotation.id == "Rng":
                yield node, arg, default


def test_os_urandom_is_only_ever_a_default():
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        tree = ast.parse(path.read_text())
        defaults = {id(d) for _, _, d in _rng_parameters(tree) if d is not None}
        for node in ast.walk(tree):
            if isinstance(node, ast.AnnAssign) and _is_urandom(node.value or ast.Pass()):
                defaults.add(id(node.value))  # a dataclass field: TrusteeAgent.randomness
        for node in ast.walk(tree):
            if _is_urandom(node) and id(node) not in defaults:
                found.append(f"{path.relative_to(ROOT.parent)}:{node.lineno}")
    assert found == []


def test_no_key_is_generated_outside_an_rng():
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = str(path.relative_to(ROOT.parent))
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "generate"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id.endswith("PrivateKey")
                and rel != _PROBE
            ):
                found.append(f"{rel}:{node.lineno}")
    assert found == []


def test_public_rng_parameters_default_to_the_os_csprng():
    missing = []
    for path in sorted(ROOT.rglob("*.py")):
        for function, arg, default in _rng_parameters(ast.parse(path.read_text())):
            if function.name.startswith("_") and function.name != "__init__":
                continue  # private helpers take the caller's rng
            if default is None or not _is_urandom(default):
                missing.append(f"{path.relative_to(ROOT.parent)}:{function.name}({arg.arg})")
    assert missing == sorted(_REQUIRED)


_SEEDED_SEAL = {"cryptoscore/hazmat/seal_engine.py"}
"""``encrypt_zero_seeded``: one public encryption of zero per seeded context, re-derivable by
anyone with the seed; never a key."""


def test_bfv_keys_are_never_made_by_seal():
    """Key generation is ``hazmat/keygen.py`` (every draw from an ``rng``): SEAL's
    ``KeyGenerator`` is not used by the library, and SEAL's PRNG is seeded only where no key
    is made (a seeded ``KeyGenerator`` would reuse one stream for every key-switching
    component, revealing the secret)."""
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = str(path.relative_to(ROOT.parent))
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and (
                node.attr == "KeyGenerator"
                or (node.attr == "set_random_generator" and rel not in _SEEDED_SEAL)
            ):
                found.append(f"{rel}:{node.lineno}")
    assert found == []
