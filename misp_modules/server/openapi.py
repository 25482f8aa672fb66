"""The OpenAPI document (built once at startup) and the offline API explorer page.

Unlike upstream's, the document describes what the server really does: the status codes it
really emits, the real ``type`` values, and the two documentation endpoints themselves.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import misp_modules
from misp_modules.server.loader import MODULE_TYPES, Registry

_ERROR = {"$ref": "#/components/schemas/Error"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def build(registry: Registry, server_url: str) -> dict[str, Any]:
    names = sorted(registry.modules)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "misp-modules-ng",
            "version": misp_modules.__version__,
            "description": "A misp-modules compatible module server. `/query` answers HTTP 200 with "
                           "`{\"error\": ...}` for every failure MISP could cause (unknown module, module "
                           "error, timeout), because MISP only reads `error` from a 2xx answer.",
        },
        "servers": [{"url": server_url}],
        "paths": {
            "/modules": {"get": {
                "summary": "List the loaded modules (what MISP reads to build its module lists)",
                "responses": {"200": _json({"type": "array", "items": {"$ref": "#/components/schemas/ModuleDescriptor"}},
                                           "Module descriptors, by type then name")},
            }},
            "/query": {"post": {
                "summary": "Run a module",
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/ModuleQuery"}}}},
                "responses": {
                    "200": _json({}, "The module's answer, or `{\"error\": ...}` when the module is unknown, "
                                     "failed or timed out"),
                    "400": _json(_ERROR, "Body is not a JSON object, `module` is missing or not a string, "
                                         "or `timeout` is not a positive number"),
                    "413": _json(_ERROR, "Body larger than the server's max_body_size"),
                },
            }},
            "/healthcheck": {"get": {"summary": "Liveness",
                                     "responses": {"200": _json({"type": "object", "properties": {
                                         "status": {"type": "boolean"}}}, "Always `{\"status\": true}`")}}},
            "/version": {"get": {"summary": "Server version",
                                 "responses": {"200": _json({"type": "object", "properties": {
                                     "version": {"type": "string"}}}, "The package version")}}},
            "/statistics": {"get": {"summary": "Query statistics per module (upstream 3.1's document)",
                                    "responses": {"200": _json({"type": "object", "properties": {
                                        "started_at": {"type": "string"}, "uptime_seconds": {"type": "number"},
                                        "totals": {"type": "object"}, "modules": {"type": "object"}}},
                                        "Queries, in flight, outcomes, bytes and response times, "
                                        "every worker's added up")}}},
            "/metrics": {"get": {"summary": "The statistics in Prometheus' text format",
                                 "responses": {"200": {"description": "Prometheus exposition format",
                                                       "content": {"text/plain": {}}}}}},
            "/openapi.json": {"get": {"summary": "This document", "responses": {"200": _json({}, "OpenAPI 3.1")}}},
            "/openapi": {"get": {"summary": "API explorer (works offline)",
                                 "responses": {"200": {"description": "HTML page",
                                                       "content": {"text/html": {}}}}}},
        },
        "components": {"schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
            "ModuleQuery": {
                "type": "object", "required": ["module"], "additionalProperties": True,
                "properties": {
                    "module": {"type": "string", "enum": names} if names else {"type": "string"},
                    "timeout": {"type": "number", "exclusiveMinimum": 0,
                                "description": "Seconds, queueing included; default: the module's timeout"},
                    "config": {"type": "object"},
                    "params": {"type": ["object", "array"]},
                    "data": {},
                },
            },
            "ModuleDescriptor": {
                "type": "object", "required": ["name", "type", "mispattributes", "meta"],
                "properties": {
                    "name": {"type": "string"},
                    "type": {"type": "string", "enum": list(MODULE_TYPES)},
                    "mispattributes": {"type": "object"},
                    "meta": {"type": "object", "required": ["module-type"], "properties": {
                        "module-type": {"type": "array", "items": {"type": "string"}},
                        "config": {"type": ["array", "object"]},
                    }},
                },
            },
        }},
    }


def explorer_page() -> bytes:
    """The explorer: one self-contained HTML file (no CDN), shipped as package data."""
    return resources.files("misp_modules.server").joinpath("static/explorer.html").read_bytes()
