"""The delivery admin API's OpenAPI document is generated from the code and published in docs/."""

from __future__ import annotations

import json

from hub.delivery.api import openapi
from hub.settings import REPO_ROOT

OPENAPI_FILE = REPO_ROOT / "docs" / "openapi-delivery.json"


def test_the_openapi_document_is_published_and_current():
    doc = openapi()
    assert json.loads(OPENAPI_FILE.read_text()) == doc, (
        "regenerate: python -c \"import json; from hub.delivery.api import openapi; "
        "open('docs/openapi-delivery.json', 'w').write("
        "json.dumps(openapi(), indent=1, sort_keys=True) + '\\n')\"")


def test_every_operation_needs_the_bearer_token_and_says_what_it_returns():
    doc = openapi()
    assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    operations = [(path, method, op) for path, item in doc["paths"].items() for method, op in item.items()]
    assert len(operations) >= 14
    for path, method, op in operations:
        assert op.get("security") == [{"HTTPBearer": []}], (method, path)
        assert any(code.startswith("2") for code in op["responses"]), (method, path)
    assert "secret" in doc["components"]["schemas"]["EndpointWithSecret"]["properties"]
    assert "secret" not in doc["components"]["schemas"]["EndpointOut"]["properties"]
    assert "payload" not in json.dumps(doc["components"]["schemas"]["DeliveryDetail"])
