"""The API description: complete, valid OpenAPI 3.1, built from the handlers' models."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from buildsvc.api.builds import BuildListQuery
from buildsvc.api.sources import BindIn
from buildsvc.repositories.schemas import RepositoryCreate
from buildsvc.web import openapi
from buildsvc.web.responses.builds import BuildOut

Client = TestClient[Any, Any]


def test_every_route_is_described_or_deliberately_hidden(app: web.Application) -> None:
    assert openapi.undocumented_routes(app) == []
    hidden = openapi.hidden_routes(app)
    assert hidden, "the console and the docs page are hidden"
    assert all(route.split(" ", 1)[1].startswith(("/console", "/api/docs")) for route in hidden)


def test_every_api_route_appears_in_the_spec(app: web.Application) -> None:
    spec = openapi.build_spec(app)
    described = {
        f"{method.upper()} {path}" for path, methods in spec["paths"].items() for method in methods
    }
    routed = {
        f"{route.method} {route.resource.canonical}"
        for route in app.router.routes()
        if route.resource is not None
        and route.method not in ("HEAD", "*")
        and not isinstance(route.resource, web.StaticResource)
    }
    assert described == routed - set(openapi.hidden_routes(app))
    for path in (
        "/api/v1/sources",
        "/api/v1/builds/{build_id}/logs",
        "/webhooks/{provider}/{hook_key}",
        "/healthz",
        "/metrics",
        "/api/v1/openapi.json",
    ):
        assert path in spec["paths"], path


def test_schemas_are_the_validating_models(app: web.Application) -> None:
    spec = openapi.build_spec(app)
    schemas = spec["components"]["schemas"]
    assert spec["openapi"] == "3.1.0"
    bind = spec["paths"]["/api/v1/sources"]["post"]
    body_ref = bind["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body_ref == "#/components/schemas/BindIn"
    assert schemas["BindIn"]["properties"].keys() == BindIn.model_json_schema()["properties"].keys()
    assert schemas["BindIn"]["additionalProperties"] is False  # extra="forbid" carried over
    assert set(schemas["RepositoryCreate"]["required"]) == {
        name for name, field in RepositoryCreate.model_fields.items() if field.is_required()
    }
    build = spec["paths"]["/api/v1/builds/{build_id}"]["get"]["responses"]["200"]
    assert build["content"]["application/json"]["schema"]["$ref"].endswith("/BuildOut")
    assert set(schemas["BuildOut"]["properties"]) == set(BuildOut.model_fields)
    listing = spec["paths"]["/api/v1/builds"]["get"]
    names = {p["name"] for p in listing["parameters"]}
    assert names == {"page", "per_page", *BuildListQuery.model_fields}
    assert "Link" in listing["responses"]["200"]["headers"]


def test_errors_use_the_one_envelope(app: web.Application) -> None:
    spec = openapi.build_spec(app)
    envelope = {"$ref": "#/components/schemas/ErrorEnvelope"}
    bind = spec["paths"]["/api/v1/sources"]["post"]["responses"]
    assert {"400", "401", "422", "500"} <= set(bind)
    assert bind["422"]["content"]["application/json"]["schema"] == envelope
    webhook = spec["paths"]["/webhooks/{provider}/{hook_key}"]["post"]
    assert webhook["security"] == []
    assert "401" not in webhook["responses"]  # public: the hook secret is checked instead
    assert spec["paths"]["/healthz"]["get"]["security"] == []


def test_refs_all_resolve(app: web.Application) -> None:
    spec = openapi.build_spec(app)
    schemas = spec["components"]["schemas"]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if ref is not None:
                assert ref.startswith("#/components/schemas/")
                assert ref.rsplit("/", 1)[1] in schemas, ref
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec)


async def test_spec_is_served_without_a_token_and_docs_page_has_no_external_assets(
    client: Client,
) -> None:
    response = await client.get("/api/v1/openapi.json")
    assert response.status == 200
    spec = await response.json()
    assert spec["servers"][0]["url"].startswith("http://127.0.0.1:")
    docs = await client.get("/api/docs")
    assert docs.status == 200
    html = await docs.text()
    assert "/api/v1/openapi.json" in html
    assert "http://" not in html
    assert "https://" not in html
    assert "default-src 'self'" in docs.headers["Content-Security-Policy"]
    script = await client.get("/console/static/apidocs.js")
    assert script.status == 200
    source = await script.text()
    assert "http://" not in source
    assert "https://" not in source
