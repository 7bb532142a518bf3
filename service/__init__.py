"""The CryptoScore web service: a thin Flask layer over the ``cryptoscore`` library.

It stores ciphertexts and public keys, checks every upload with the library, and serves a REST
API under ``/api/v1`` (OpenAPI document at ``/api/v1/openapi.json``). It holds no cryptography
of its own. Start with :func:`service.app.create_app`; modules:

* ``config``     settings from the environment
* ``app``        the application factory and the list of blueprints
* ``db``         engine, per-request session, migrations (``migrations/``)
* ``models``     the tables
* ``blobs``      the content-addressed blob store
* ``auth``       bearer tokens and roles
* ``problems``   RFC 9457 error responses
* ``schemas``    marshmallow request and response schemas
* ``openapi``    the OpenAPI document
* ``cors``       CORS for public read endpoints
* ``bodies``     reading JSON and multipart request bodies
* ``health``, ``tokens``, ``challenges``, ``bundles`` (labels, submissions), ``trustee``,
  ``records`` (leaderboard, log heads, audit bundle)   one blueprint per resource
* ``ledger``     each challenge's log, persisted; the service's log key; challenge contexts
* ``jobs``       the two-round release as idempotent jobs; in-process runner and RQ
* ``worker``     ``cryptoscore worker``: consume the RQ queue
* ``cli``        what the command line calls (``serve``, ``token create``)
"""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
