"""What every domain's routes share: who the request acts as, a validated JSON body and a
JSON response.

One authenticator for the whole app (set under :data:`AUTH` by the composition root: the
ticket directory, which owns users, their passwords and API tokens); the access middleware
(``access.py``) puts the actor on the request after checking the route's roles. Domains raise
their own error class for a bad body, so each area answers with its own error id.
"""

from __future__ import annotations

import json
from typing import Any, Protocol, TypeVar

from aiohttp import web
from pydantic import BaseModel, TypeAdapter, ValidationError

from ..errors import HotlineError, Unauthorized
from ..roles import Actor

M = TypeVar("M", bound=BaseModel)
MAX_BODY = 1_000_000


class Authenticator(Protocol):
    async def authenticate(self, token: str) -> Actor: ...

    async def sign_in(self, username: str, password: str) -> Actor | None: ...

    async def standing(self, user_id: int) -> tuple[bool, float]: ...

    async def locale(self, user_id: int) -> str | None: ...

    async def set_locale(self, user_id: int, locale: str) -> None: ...


AUTH: web.AppKey[Authenticator] = web.AppKey("auth")
ACTOR: web.RequestKey[Actor] = web.RequestKey("actor")
SESSION: web.RequestKey[Any] = web.RequestKey("web_session")  # a sessions.WebSession


def json_response(
    data: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """JSON with Chinese left readable (not \\u-escaped)."""
    return web.json_response(
        data, status=status, headers=headers, dumps=lambda o: json.dumps(o, ensure_ascii=False)
    )


def actor(request: web.Request) -> Actor:
    """Who the request acts as (the access middleware has checked the route's roles)."""
    who = request.get(ACTOR)
    if who is None:
        raise Unauthorized("sign in, or send an API token (Authorization: Bearer …)")
    return who


async def read_body(
    request: web.Request, model: type[M] | TypeAdapter[Any], *, invalid: type[HotlineError]
) -> Any:
    """The request's JSON body validated by ``model``; a bad one raises ``invalid``."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise invalid("request body over 1 MB")
    raw = await request.read()
    try:
        data = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise invalid(f"body is not JSON: {e}") from None
    try:
        if isinstance(model, TypeAdapter):
            return model.validate_python(data)
        return model.model_validate(data)
    except ValidationError as e:
        errors = [{"loc": list(err["loc"]), "msg": err["msg"]} for err in e.errors()]
        raise invalid("invalid request body", errors=errors) from None
