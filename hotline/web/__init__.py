"""What every domain's web routes stand on: who may use each route and the middleware that
checks it (``access``), browser sessions and sign-in throttling (``sessions``), the actor,
JSON bodies and answers (``common``), and the OpenAPI registry (``openapi``).

Below every domain: it imports none of them, so the ticket, IVR and speech routes and the
pages of ``agent_desk`` can all build on it.
"""
