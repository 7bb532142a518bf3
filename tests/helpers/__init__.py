"""Shared test helpers, importable as ``tests.helpers.<module>``: a committee with its
ceremony (``committee``), the attacker's algebra of the share-exposure tests (``exposure``),
the service's test client helpers (``service``) and whole-protocol drivers over it
(``protocol``)."""
