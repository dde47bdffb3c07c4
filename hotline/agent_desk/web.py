"""What every domain's routes share: who the request acts as, a role check, a validated JSON
body and a JSON response.

One authenticator for the whole app (set under :data:`AUTH` by the composition root: the
ticket directory, which owns users and their API tokens); domains raise their own error class
for a bad body, so each area answers with its own error id.
"""

from __future__ import annotations

import json
from typing import Any, Protocol, TypeVar

from aiohttp import web
from pydantic import BaseModel, TypeAdapter, ValidationError

from ..errors import Forbidden, HotlineError, Unauthorized
from ..roles import Actor, Role

M = TypeVar("M", bound=BaseModel)
MAX_BODY = 1_000_000


class Authenticator(Protocol):
    async def authenticate(self, token: str) -> Actor: ...


AUTH: web.AppKey[Authenticator] = web.AppKey("auth")


def json_response(
    data: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """JSON with Chinese left readable (not \\u-escaped)."""
    return web.json_response(
        data, status=status, headers=headers, dumps=lambda o: json.dumps(o, ensure_ascii=False)
    )


async def actor(request: web.Request) -> Actor:
    """The actor behind the request's bearer token."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        raise Unauthorized("an API token is required (Authorization: Bearer …)")
    auth = request.app.get(AUTH)
    if auth is None:
        raise Unauthorized("no accounts are configured on this server")
    return await auth.authenticate(token.strip())


def require(who: Actor, roles: frozenset[Role]) -> None:
    if who.role not in roles:
        raise Forbidden(f"a {who.role.value} may not do this", role=who.role.value)


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
