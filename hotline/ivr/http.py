"""IVR control for supervisors: flows in force, runtime flags, reload."""

from __future__ import annotations

import re

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from hotline.errors import HotlineError
from hotline.ivr.runtime import IvrRuntime
from hotline.keys import IVR
from hotline.roles import Role
from hotline.web.access import EVERYONE, roles
from hotline.web.common import json_response, read_body
from hotline.web.openapi import Op, Param

SUPERVISORS = frozenset({Role.SUPERVISOR, Role.ADMIN})
FLAG_NAME = re.compile(r"[\w-]{1,64}")


class FlagBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    on: bool


class IvrUnavailable(HotlineError):
    error_id = "ivr-unavailable"
    status = 503


class IvrInvalid(HotlineError):
    """A flag name or request body the IVR API cannot take."""

    error_id = "ivr-invalid"
    status = 422


def _runtime(request: web.Request) -> IvrRuntime:
    rt = request.app.get(IVR)
    if rt is None:
        raise IvrUnavailable("the IVR is not running")
    return rt


def _state(rt: IvrRuntime) -> dict[str, object]:
    return {
        "flags": sorted(rt.flags),
        "known_flags": sorted(rt.known_flags()),
        "flows": {line: flow.name for line, flow in rt.flows.by_line.items()},
        "default_flow": rt.flows.default.name,
        "sources": rt.flows.sources,
        "last_error": rt.last_error,
    }


async def ivr_state(request: web.Request) -> web.Response:
    return json_response(_state(_runtime(request)))


async def set_ivr_flag(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if not FLAG_NAME.fullmatch(name):
        raise IvrInvalid("a flag name is 1-64 letters, digits, - and _", flag=name)
    body = await read_body(request, FlagBody, invalid=IvrInvalid)
    rt = _runtime(request)
    await rt.set_flag(name, body.on)
    return json_response(_state(rt))


async def reload_flows(request: web.Request) -> web.Response:
    rt = _runtime(request)
    errors = rt.reload()
    return json_response({**_state(rt), "reloaded": not errors}, status=422 if errors else 200)


def ops() -> list[Op]:
    return [
        Op(
            "GET",
            "/api/ivr",
            ivr_state,
            "Flows in force, flags and the last load error",
            "ivr",
            access=roles(EVERYONE),
        ),
        Op(
            "PUT",
            "/api/ivr/flags/{name}",
            set_ivr_flag,
            "Switch a runtime flag (e.g. the emergency announcement)",
            "ivr",
            FlagBody,
            params=(Param("name", "path", required=True),),
            access=roles(SUPERVISORS),
        ),
        Op(
            "POST",
            "/api/ivr/reload",
            reload_flows,
            "Reload the flow files; on error the flows in force stay",
            "ivr",
            access=roles(SUPERVISORS),
        ),
    ]
