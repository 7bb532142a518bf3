"""Threshold decryption: the key ceremony, active sets, single-use smudged partials, the
journal and lineages that keep them single use, combination, and pad shares
(docs/design.md, "Threshold decryption").
"""
