"""Scoring on ciphertexts: keys, the slot layout, encryption, bundles, the scoring and
validity circuits, noise bounds and the noise check (docs/design.md, "BFV lane").
"""
