"""One error shape for every API: ``{"errors": [{"field": "<where>", "reason": "<why>"}]}``.

* :class:`ApiError` -- raise it from a handler: status code, field, reason (401, 403, 404, 409, 422...);
  ``ApiError.of(status, entries)`` for several fields at once.
* pydantic's refusal of a request (FastAPI's ``RequestValidationError``) -> 422, one entry per field,
  the field named by its location: a body field by its path in the body (``citizen.nik``, the name
  admission's own errors use too; ``(body)`` for the body as a whole), other parameters with their
  location (``path.request_id``, ``query.limit``); the reason without the refused value (a value is
  never echoed beyond ``hub.errors.MAX_ECHO`` characters).
* :class:`ErrorBody` and :func:`error_responses` describe that shape in an app's OpenAPI document.
* A handler's ``hub.core.errors.ValidationError(s)`` -> 422 with their fields and reasons.
* Anything unexpected -> 500 with no detail, logged with its traceback (bad *input* must never get
  here: that is what the limits and the models are for).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from hub.core.errors import ValidationError, ValidationErrors
from hub.errors import MAX_ECHO

log = logging.getLogger("hub.http")


class ApiError(Exception):
    """An answer other than 2xx, with the field at fault and why."""

    def __init__(self, status: int, field: str, reason: str, *, headers: dict[str, str] | None = None):
        super().__init__(f"{status} {field}: {reason}")
        self.status = status
        self.errors = [{"field": field, "reason": reason[:MAX_ECHO * 2]}]
        self.headers = headers

    @classmethod
    def of(cls, status: int, entries: Sequence[dict[str, str]]) -> ApiError:
        """One answer naming several fields (``entries``: ``{"field", "reason"}`` dicts, at least one)."""
        error = cls(status, entries[0]["field"], entries[0]["reason"])
        error.errors = [{"field": e["field"], "reason": e["reason"][:MAX_ECHO * 2]} for e in entries]
        return error


class ErrorEntry(BaseModel):
    field: str = Field(examples=["citizen.nik"])
    reason: str = Field(examples=["must be 16 digits, got 15"])


class ErrorBody(BaseModel):
    """Every answer other than 2xx: what was refused, field by field."""

    errors: list[ErrorEntry]


def error_responses(*codes: tuple[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for ``(status, description)`` pairs, each with the :class:`ErrorBody` shape."""
    return {status: {"model": ErrorBody, "description": description} for status, description in codes}


def body(errors: Iterable[dict[str, str]]) -> dict[str, list[dict[str, str]]]:
    return {"errors": list(errors)}


def _loc(loc: Sequence[Any]) -> str:
    if loc and loc[0] == "body":  # a body field: its path in the body, as admission names it
        return ".".join(str(p) for p in loc[1:]) or "(body)"
    return ".".join(str(p) for p in loc) or "(request)"


def validation_entries(exc: RequestValidationError) -> list[dict[str, str]]:
    out = []
    for err in exc.errors():
        reason = str(err.get("msg", "invalid"))
        if len(reason) > MAX_ECHO:
            reason = reason[:MAX_ECHO] + "..."
        out.append({"field": _loc(err.get("loc", ())), "reason": reason})
    return out


def install(app: FastAPI) -> FastAPI:
    """Give ``app`` the hub's error shape (call once when building the app)."""

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(body(exc.errors), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(body(validation_entries(exc)), status_code=422)

    @app.exception_handler(ValidationError)
    async def _refused(_request: Request, exc: ValidationError) -> JSONResponse:
        return JSONResponse(body([exc.as_dict()]), status_code=422)

    @app.exception_handler(ValidationErrors)
    async def _refused_many(_request: Request, exc: ValidationErrors) -> JSONResponse:
        return JSONResponse(body(exc.as_dicts()), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(body([{"field": "(request)", "reason": str(exc.detail)}]),
                            status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error answering %s %s", request.method, request.url.path)
        return JSONResponse(body([{"field": "(server)", "reason": "internal error"}]), status_code=500)

    return app
