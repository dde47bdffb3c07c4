"""A small route registry that serves the OpenAPI document of the routes it registers.

Request bodies are pydantic models (or type adapters), so their JSON Schema comes from the
same definitions that validate requests; the document cannot drift from the code.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel, TypeAdapter

from .access import COOKIE, PUBLIC, Access, add

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ERROR = {
    "type": "object",
    "properties": {
        "error_id": {"type": "string"},
        "message": {"type": "string"},
        "details": {"type": "object"},
    },
    "required": ["error_id", "message"],
}


@dataclass(frozen=True)
class Param:
    name: str
    where: str = "query"  # query, path, header
    type: str = "string"
    required: bool = False
    description: str = ""


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    body: type[BaseModel] | TypeAdapter[Any] | None = None
    params: tuple[Param, ...] = ()
    access: Access | None = None  # who may call it; every route must say
    statuses: tuple[int, ...] = (200,)


@dataclass
class Api:
    title: str
    version: str
    ops: list[Op] = field(default_factory=list)

    def add(self, op: Op) -> None:
        self.ops.append(op)

    def mount(self, app: web.Application) -> None:
        for op in self.ops:
            if op.access is None:
                raise ValueError(f"{op.method} {op.path} declares no access")
            add(app, op.method, op.path, op.handler, op.access)
        add(app, "GET", "/api/openapi.json", self.serve, PUBLIC)

    async def serve(self, request: web.Request) -> web.Response:
        return web.json_response(self.document())

    def document(self) -> dict[str, Any]:
        paths: dict[str, dict[str, Any]] = {}
        schemas: dict[str, Any] = {"Error": ERROR}
        for op in self.ops:
            item: dict[str, Any] = {
                "summary": op.summary,
                "tags": [op.tag],
                "operationId": op.handler.__name__,
                "responses": {
                    str(s): {"description": "OK" if s < 300 else "see status"} for s in op.statuses
                },
            }
            for s in (400, 401, 403, 404, 409, 422):
                item["responses"][str(s)] = {
                    "description": "error",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                }
            params = [
                {
                    "name": p.name,
                    "in": p.where,
                    "required": p.required or p.where == "path",
                    "description": p.description,
                    "schema": {"type": p.type},
                }
                for p in op.params
            ]
            params += [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in _path_names(op.path)
                if name not in {p.name for p in op.params}
            ]
            if params:
                item["parameters"] = params
            if op.body is not None:
                adapter = op.body if isinstance(op.body, TypeAdapter) else TypeAdapter(op.body)
                schema = adapter.json_schema(ref_template="#/components/schemas/{model}")
                schemas.update(schema.pop("$defs", {}))
                name = getattr(op.body, "__name__", f"{op.handler.__name__}_body")
                schemas[name] = schema
                item["requestBody"] = {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}
                    },
                }
            if op.access is not None and op.access.roles:
                item["security"] = [{"bearer": []}, {"session": []}]
                item["x-roles"] = sorted(r.value for r in op.access.roles)
            elif op.access is not None and op.access.signed:
                item["security"] = [{"hmac": []}]
            paths.setdefault(op.path, {})[op.method.lower()] = item
        return {
            "openapi": "3.1.0",
            "info": {"title": self.title, "version": self.version},
            "paths": paths,
            "components": {
                "schemas": schemas,
                "securitySchemes": {
                    "bearer": {"type": "http", "scheme": "bearer"},
                    "hmac": {"type": "apiKey", "in": "header", "name": "X-Hotline-Signature"},
                    "session": {"type": "apiKey", "in": "cookie", "name": COOKIE},
                },
            },
        }


def _path_names(path: str) -> list[str]:
    return [part[1:-1].split(":")[0] for part in path.split("/") if part.startswith("{")]
