"""Ring arithmetic and the SEAL bridge: exact modular arithmetic, CSPRNG sampling, Shamir
sharing per prime, SEAL's formats and NTT, BFV key generation in SEAL's layout, the canonical
ciphertext encoding, c1 expansion.

Nothing here is a recipe (docs/design.md, "Ring arithmetic and the SEAL bridge").
"""
