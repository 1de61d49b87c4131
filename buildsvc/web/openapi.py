"""The API description: OpenAPI 3.1 at ``/api/v1/openapi.json``, rendered at ``/api/docs``.

Handlers describe themselves where they are written, with the models they validate and
render::

    @routes.post("/api/v1/sources")
    @describe("Bind a code source", body=BindIn, response=BindingOut, status=201,
              errors=(409, 422))
    async def bind(request): ...

``describe`` only records the ``Operation`` (the handler is returned unchanged);
``build_spec(app)`` walks the application's router, so a route exists in the spec exactly
when it exists in the app. Schemas come from the same pydantic classes through
``models_json_schema`` (request bodies and query strings in validation mode, responses
in serialization mode), hoisted into ``components.schemas``. Every operation lists its
error statuses with the one error envelope. ``hidden`` marks routes that are not API
(the console's HTML pages); ``undocumented_routes(app)`` names any route that is
neither, for the test that keeps the spec complete.

This module imports no handler module (they import it), so it stays a leaf.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from buildsvc.web.jsonio import json_response
from buildsvc.web.pagination import DEFAULT_PER_PAGE, MAX_PAGE, MAX_PER_PAGE

H = TypeVar("H", bound=Callable[..., Any])

SPEC_PATH = "/api/v1/openapi.json"
DOCS_PATH = "/api/docs"
API_TITLE = "buildsvc API"
API_VERSION = "1.0.0"
REF_TEMPLATE = "#/components/schemas/{model}"

ERROR_DESCRIPTIONS: Mapping[int, str] = {
    400: "The request is not valid (bad JSON, a field or query parameter out of range).",
    401: "A valid API token is required (`Authorization: Bearer <token>`).",
    403: "This action is not allowed.",
    404: "Not found (or owned by another account).",
    405: "This method is not allowed on this resource.",
    409: "Conflicts with the current state (a limit, an existing name, a finished build).",
    413: "The request body is too large.",
    422: "The code source refused the binding information "
    "(SOURCE_UNREACHABLE or SOURCE_ERROR_RESPONSE, with a detail naming the cause).",
    500: "An internal error; the detail names the request id to report.",
    502: "The code source failed (SOURCE_UNREACHABLE or SOURCE_ERROR_RESPONSE).",
    503: "A backing service is unavailable; try again later.",
}


# One server-sent event of a log stream (OpenAPI 3.1: ``schema`` describes each event).
SSE_EVENT: Mapping[str, Any] = {
    "type": "object",
    "required": ["data"],
    "properties": {
        "event": {
            "type": "string",
            "enum": ["end", "reconnect"],
            "description": "end: the build ended; reconnect: this API process is stopping,"
            " reconnect with Last-Event-ID (after the event's retry milliseconds)",
        },
        "id": {"type": "string", "description": "the line's seq (resume with Last-Event-ID)"},
        "data": {
            "type": "string",
            "description": 'JSON: {"seq", "ts", "line"}; for end {"status", "error"}',
        },
    },
}


class ErrorOut(BaseModel):
    code: str
    message: str
    detail: str | None


class ErrorEnvelope(BaseModel):
    """Every error answer: a stable ``code``, the user-facing ``message`` and a ``detail``."""

    error: ErrorOut


@dataclass(frozen=True, slots=True)
class Operation:
    summary: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: Any = None  # a pydantic model class (also a parametrised generic: Page[X])
    status: int = 200
    errors: tuple[int, ...] = ()
    paginated: bool = False
    public: bool = False
    media_type: str = "application/json"
    # Other representations of the success answer: media type -> OpenAPI media object.
    alternatives: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    path_params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # Answers that are not the error envelope: status -> (description, model).
    other_responses: Mapping[int, tuple[str, type[BaseModel]]] = field(default_factory=dict)
    # Answers with no body at all: status -> description (the registry token endpoint's 401).
    bare_responses: Mapping[int, str] = field(default_factory=dict)
    body_schema: Mapping[str, Any] | None = None  # a free-form body (webhook payloads)
    description: str | None = None


_OPERATIONS: dict[Callable[..., Any], Operation] = {}
_HIDDEN: set[Callable[..., Any]] = set()


def describe(summary: str, **details: Any) -> Callable[[H], H]:
    """Record what a handler accepts and answers (see ``Operation``)."""
    operation = Operation(summary, **details)

    def mark(handler: H) -> H:
        _OPERATIONS[handler] = operation
        return handler

    return mark


def hidden(handler: H) -> H:
    """A route that is deliberately not part of the API description (HTML pages)."""
    _HIDDEN.add(handler)
    return handler


def operation_of(handler: Callable[..., Any]) -> Operation | None:
    return _OPERATIONS.get(handler)


def _api_routes(app: web.Application) -> list[tuple[str, str, Callable[..., Any]]]:
    """(method, path template, handler) of every routed handler, HEAD and static left out."""
    found = []
    for route in app.router.routes():
        resource = route.resource
        if resource is None or route.method in ("HEAD", "*"):
            continue
        if isinstance(resource, web.StaticResource):
            continue
        path = re.sub(r"\{(\w+):[^}]*\}", r"{\1}", resource.canonical)
        found.append((route.method, path, route.handler))
    return found


def undocumented_routes(app: web.Application) -> list[str]:
    return [
        f"{method} {path}"
        for method, path, handler in _api_routes(app)
        if handler not in _OPERATIONS and handler not in _HIDDEN
    ]


def hidden_routes(app: web.Application) -> list[str]:
    return [f"{m} {p}" for m, p, handler in _api_routes(app) if handler in _HIDDEN]


def _tag(path: str) -> str:
    if path.startswith("/api/v1/"):
        return path.split("/")[3].replace(".json", "") or "api"
    if path.startswith("/webhooks/"):
        return "webhooks"
    return "operations"


def _path_parameter(name: str, override: Mapping[str, Any] | None) -> dict[str, Any]:
    if override is not None:
        schema = dict(override)
    elif name.endswith("_id"):
        schema = {"type": "integer", "minimum": 1}
    else:
        schema = {"type": "string", "minLength": 1}
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query string cannot say null: an optional parameter is simply left out."""
    alternatives = schema.get("anyOf")
    if not isinstance(alternatives, list):
        return schema
    kept = [alt for alt in alternatives if alt != {"type": "null"}]
    rest = {k: v for k, v in schema.items() if k != "anyOf" and not (k == "default" and v is None)}
    if len(kept) == 1:
        return {**kept[0], **rest}
    return {**rest, "anyOf": kept}


def _query_parameters(model: type[BaseModel], schema: Mapping[str, Any]) -> list[dict[str, Any]]:
    required = set(schema.get("required", ()))
    parameters = []
    for name, prop in schema.get("properties", {}).items():
        prop = _without_null({k: v for k, v in prop.items() if k != "title"})
        field_info = model.model_fields.get(name)
        parameter: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": prop,
        }
        if field_info is not None and field_info.description:
            parameter["description"] = field_info.description
        parameters.append(parameter)
    return parameters


PAGE_PARAMETERS: list[dict[str, Any]] = [
    {
        "name": "page",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1},
    },
    {
        "name": "per_page",
        "in": "query",
        "required": False,
        "schema": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_PER_PAGE,
            "default": DEFAULT_PER_PAGE,
        },
    },
]
LINK_HEADER = {
    "description": "RFC 8288 links: first, prev, next, last",
    "schema": {"type": "string"},
}


class _Schemas:
    """Collects every model an operation names, then renders them in one pass."""

    def __init__(self) -> None:
        self.wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = [
            (ErrorEnvelope, "serialization")
        ]
        self.refs: dict[tuple[type[BaseModel], JsonSchemaMode], dict[str, Any]] = {}
        self.components: dict[str, Any] = {}

    def want(self, model: type[BaseModel] | None, mode: JsonSchemaMode) -> None:
        if model is not None and (model, mode) not in self.wanted:
            self.wanted.append((model, mode))

    def render(self) -> None:
        refs, definitions = models_json_schema(self.wanted, ref_template=REF_TEMPLATE)
        self.refs = {(model, mode): dict(value) for (model, mode), value in refs.items()}  # type: ignore[misc]
        self.components = dict(definitions.get("$defs", {}))

    def ref(self, model: type[BaseModel], mode: JsonSchemaMode) -> dict[str, Any]:
        return self.refs[(model, mode)]

    def inline(self, model: type[BaseModel]) -> dict[str, Any]:
        """A query model's own schema (its properties become parameters)."""
        reference = self.ref(model, "validation")["$ref"]
        name = reference.rsplit("/", 1)[-1]
        schema: dict[str, Any] = self.components[name]
        return schema


def _error_responses(op: Operation, has_path_params: bool) -> dict[str, Any]:
    statuses = set(op.errors) | {500}
    if op.body is not None or op.query is not None or op.paginated:
        statuses.add(400)
    if op.body is not None or op.body_schema is not None:
        statuses.add(413)
    if not op.public:
        statuses.add(401)
    if has_path_params:
        statuses.add(404)
    envelope = {"$ref": REF_TEMPLATE.format(model="ErrorEnvelope")}
    return {
        str(status): {
            "description": ERROR_DESCRIPTIONS.get(status, "An error."),
            "content": {"application/json": {"schema": envelope}},
        }
        for status in sorted(statuses)
    }


def _responses(op: Operation, has_path_params: bool, schemas: _Schemas) -> dict[str, Any]:
    """The success answer, the errors and the operation's other answers, by status."""
    success: dict[str, Any] = {"description": op.summary}
    content: dict[str, Any] = {}
    if op.response is not None:
        content[op.media_type] = {"schema": schemas.ref(op.response, "serialization")}
    content.update({media: dict(obj) for media, obj in op.alternatives.items()})
    if content:
        success["content"] = content
    if op.paginated:
        success["headers"] = {"Link": LINK_HEADER}
    responses = {str(op.status): success, **_error_responses(op, has_path_params)}
    for status, (description, model) in op.other_responses.items():
        responses[str(status)] = {
            "description": description,
            "content": {"application/json": {"schema": schemas.ref(model, "serialization")}},
        }
    for status, description in op.bare_responses.items():
        responses[str(status)] = {"description": description}
    return responses


def _operation_object(
    method: str, path: str, handler: Callable[..., Any], op: Operation, schemas: _Schemas
) -> dict[str, Any]:
    names = re.findall(r"\{(\w+)\}", path)
    parameters = [_path_parameter(name, op.path_params.get(name)) for name in names]
    if op.paginated:
        parameters += PAGE_PARAMETERS
    if op.query is not None:
        parameters += _query_parameters(op.query, schemas.inline(op.query))
    responses = _responses(op, bool(names), schemas)
    doc = (op.description or handler.__doc__ or "").strip()
    operation: dict[str, Any] = {
        "operationId": f"{handler.__module__.rsplit('.', 1)[-1]}_{handler.__name__}",
        "summary": op.summary,
        "tags": [_tag(path)],
        "parameters": parameters,
        "responses": responses,
    }
    if doc:
        operation["description"] = doc
    if op.public:
        operation["security"] = []
    body = schemas.ref(op.body, "validation") if op.body is not None else op.body_schema
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": dict(body)}},
        }
    return operation


def build_spec(app: web.Application, server_url: str | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every described route of ``app``."""
    routes = [
        (method, path, handler, _OPERATIONS[handler])
        for method, path, handler in _api_routes(app)
        if handler in _OPERATIONS
    ]
    schemas = _Schemas()
    for *_, op in routes:
        schemas.want(op.body, "validation")
        schemas.want(op.query, "validation")
        schemas.want(op.response, "serialization")
        for _description, model in op.other_responses.values():
            schemas.want(model, "serialization")
    schemas.render()
    paths: dict[str, dict[str, Any]] = {}
    for method, path, handler, op in sorted(routes, key=lambda r: (r[1], r[0])):
        paths.setdefault(path, {})[method.lower()] = _operation_object(
            method, path, handler, op, schemas
        )
    spec: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": API_TITLE,
            "version": API_VERSION,
            "description": "Source-code-to-image builds. Errors are "
            '`{"error": {"code", "message", "detail"}}`; lists are `{"items", "total"}` '
            "paginated with `?page=&per_page=` and a `Link` header.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas.components,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "description": "API token"}
            },
        },
        "security": [{"bearerAuth": []}],
    }
    if server_url:
        spec["servers"] = [{"url": server_url}]
    return spec


routes = web.RouteTableDef()


class SpecOut(BaseModel):
    """An OpenAPI 3.1 document."""

    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]
    components: dict[str, Any]


@routes.get(SPEC_PATH)
@describe("This API description (OpenAPI 3.1)", response=SpecOut, public=True)
async def openapi_json(request: web.Request) -> web.Response:
    spec = build_spec(request.app, server_url=f"{request.scheme}://{request.host}")
    return json_response(spec, headers={"Cache-Control": "no-cache"})


DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>buildsvc API reference</title>
<link rel="icon" href="/console/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/console/static/console.css">
<link rel="stylesheet" href="/console/static/apidocs.css">
<script src="/console/static/apidocs.js" defer></script>
</head>
<body>
<header class="topbar"><a class="brand" href="/console">buildsvc</a>
<span class="topbar-title">API reference</span></header>
<main id="apidocs" class="apidocs" data-spec-url="{spec}" aria-live="polite">
<p>Loading the API description from <a href="{spec}">{spec}</a>&hellip;</p>
</main>
</body>
</html>
"""


@routes.get(DOCS_PATH)
@hidden
async def docs_page(request: web.Request) -> web.Response:
    return web.Response(
        text=DOCS_PAGE.replace("{spec}", SPEC_PATH),
        content_type="text/html",
        headers={"Content-Security-Policy": "default-src 'self'; object-src 'none'"},
    )
