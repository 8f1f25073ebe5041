"""The one HTTP framework of the hub's APIs: FastAPI on uvicorn.

Every API of the project (the village-desk intake API, agency webhook callbacks, the webhook
subscription admin API, the service mall) is a FastAPI app built with :func:`hub.http.errors.install`
(one error shape, ``{"errors": [{"field": ..., "reason": ...}]}``) and run by
:class:`hub.http.server.ApiServer` inside the process's own event loop. Request bodies are pydantic
models, so each app's OpenAPI document is generated from the models (``app.openapi()``), never written
by hand.
"""
