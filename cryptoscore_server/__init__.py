"""The CryptoScore web service: a thin Flask layer over the ``cryptoscore`` library.

It stores ciphertexts and public keys, checks every upload with the library, and serves a REST
API under ``/api/v1`` (OpenAPI document at ``/api/v1/openapi.json``). It holds no cryptography
of its own. Installed with the ``[server]`` extra; start with
:func:`cryptoscore_server.app.create_app`. Modules:

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
* ``routes/``    one blueprint per resource (``routes/__init__.py`` lists them)
* ``ledger``     each challenge's log, persisted; the service's log key; challenge contexts
* ``jobs``       the two-round release as idempotent jobs; in-process runner and RQ
* ``worker``     ``cryptoscore worker``: consume the RQ queue
* ``launch``     opening, binding and serving the app; minting a token in its database
* ``commands``   the ``serve``, ``worker`` and ``token`` commands, which the
  ``cryptoscore`` command line finds through the ``cryptoscore.commands`` entry point

Importing this package imports nothing else: ``commands`` must load where Flask is absent.
"""
