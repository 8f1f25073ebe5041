"""One error shape for every API: ``{"errors": [{"field": "<where>", "reason": "<why>"}]}``.

* :class:`ApiError` -- raise it from a handler: status code, field, reason (401, 403, 404, 409, 422...).
* pydantic's refusal of a request (FastAPI's ``RequestValidationError``) -> 422, one entry per field,
  the field named by its location (``body.citizen.nik``), the reason without the refused value (a
  value is never echoed beyond ``hub.errors.MAX_ECHO`` characters).
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


def body(errors: Iterable[dict[str, str]]) -> dict[str, list[dict[str, str]]]:
    return {"errors": list(errors)}


def _loc(loc: Sequence[Any]) -> str:
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
        return JSONResponse(body([{"field": "(request)", "reason": str(exc.detail)}]), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error answering %s %s", request.method, request.url.path)
        return JSONResponse(body([{"field": "(server)", "reason": "internal error"}]), status_code=500)

    return app
