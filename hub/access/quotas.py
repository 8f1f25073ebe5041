"""Client quotas (bytes/s per broker) of a principal: Kafka's AlterClientQuotas / DescribeClientQuotas APIs.

Neither client library the hub uses offers them as a call (confluent-kafka 2.x has no client-quota API;
aiokafka 0.14 ships only the DescribeClientQuotas struct, ``aiokafka/protocol/admin.py``). The
AlterClientQuotas v0 request is declared here the way aiokafka declares its own structs (same
``Schema`` types), from the Kafka protocol (KIP-546, API key 49; v0 is the non-flexible version Kafka 4.x
still serves) and sent through aiokafka's admin client (``AIOKafkaAdminClient._send_request``, the same
path its own ``describe_configs`` uses). Only the ``user`` entity is used: a quota follows the principal,
whatever client id it connects with.
"""

from __future__ import annotations

from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.admin import DescribeClientQuotasRequest
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import Array, Boolean, Float64, Int16, Int32, Schema, String

PRODUCE = "producer_byte_rate"
FETCH = "consumer_byte_rate"


_ENTITY = Array(("entity_type", String("utf-8")), ("entity_name", String("utf-8")))


class AlterClientQuotasResponse_v0(Response):
    API_KEY = 49
    API_VERSION = 0
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("entries", Array(("error_code", Int16), ("error_message", String("utf-8")), ("entity", _ENTITY))),
    )


class AlterClientQuotasRequest_v0(RequestStruct):
    API_KEY = 49
    API_VERSION = 0
    RESPONSE_TYPE = AlterClientQuotasResponse_v0
    SCHEMA = Schema(
        ("entries", Array(("entity", _ENTITY),
                          ("ops", Array(("key", String("utf-8")), ("value", Float64), ("remove", Boolean))))),
        ("validate_only", Boolean),
    )


class AlterClientQuotasRequest(Request[AlterClientQuotasRequest_v0]):
    API_KEY = 49

    def __init__(self, entries: list[Any]):
        self._entries = entries

    def build(self, request_struct_class: type[AlterClientQuotasRequest_v0]) -> AlterClientQuotasRequest_v0:
        return request_struct_class(self._entries, False)


async def set_user_quota(admin: AIOKafkaAdminClient, user: str, bytes_per_second: int | None) -> None:
    """Produce and fetch quota of ``user`` (None removes both)."""
    remove = bytes_per_second is None
    value = float(bytes_per_second or 0)
    entry = ([("user", user)], [(PRODUCE, value, remove), (FETCH, value, remove)])
    response = await admin._send_request(AlterClientQuotasRequest([entry]))
    for error_code, message, _ in response.entries:
        if error_code:
            raise RuntimeError(f"quota of {user!r} refused by the broker: error {error_code} {message}")


async def user_quota(admin: AIOKafkaAdminClient, user: str) -> dict[str, float]:
    """The quotas set for ``user`` ({} if none)."""
    response = await admin._send_request(DescribeClientQuotasRequest([("user", 0, user)], True))
    if response.error_code:
        raise RuntimeError(f"describing the quota of {user!r} failed: {response.error_message}")
    return {name: value for _, values in response.entries for name, value in values}
