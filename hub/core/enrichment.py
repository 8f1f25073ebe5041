"""Enrichment: what the lifecycle engine adds to an accepted event. Pure.

Reference names from the region code (village, kecamatan), service terms from the catalogue (name,
agency, SLA, fee), the request's current deadlines, and a pseudonymous citizen reference: a keyed
HMAC-SHA256 of the NIK, so a consumer can link one citizen's requests without ever seeing the NIK
(the key stays in the hub; without it the reference cannot be reversed by trying all NIKs).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any

from hub.core import regions
from hub.core.catalogue import Service
from hub.core.models import Enrichment, RequestLifecycleEvent, utc_millis

__all__ = ["citizen_check", "citizen_ref", "enrich", "enrichment_for", "enrichment_record"]


def citizen_ref(nik: str | None, key: bytes | None) -> str | None:
    """Hex HMAC-SHA256 of the NIK under ``key``; None without a NIK or a key."""
    if not nik or not key:
        return None
    return hmac.new(key, nik.encode("ascii"), hashlib.sha256).hexdigest()


def citizen_check(request_id: str, nik: str | None, key: bytes | None) -> str | None:
    """The second factor of a citizen's look-up of one request: the first 32 hex characters of
    HMAC-SHA256(key, "<request_id>:<last 4 digits of the NIK>"); None without a NIK or a key.

    Bound to the request (the same NIK tail gives another value on another request), and useless
    without the key, so the view that checks it stores neither the NIK nor its digits."""
    if not nik or not key:
        return None
    return hmac.new(key, f"{request_id}:{nik[-4:]}".encode(), hashlib.sha256).hexdigest()[:32]


def enrichment_record(region_code: str, service: Service, *, due_at: datetime | None = None,
                      warn_at: datetime | None = None, ref: str | None = None,
                      check: str | None = None) -> dict[str, Any]:
    """The enrichment block (the Avro record as a dict) of an admitted event in ``region_code`` (its region
    and service are known to be valid); times in UTC, to the millisecond, like the model's."""
    village = regions.region(region_code)
    assert village.kecamatan_code is not None and village.kecamatan_name is not None
    return {
        "village_name": village.name,
        "kecamatan_code": village.kecamatan_code,
        "kecamatan_name": village.kecamatan_name,
        "service_name": service.name_id,
        "agency_name": service.agency_name,
        "sla_working_days": service.sla_working_days,
        "fee_idr": service.fee_idr,
        "due_at": utc_millis(due_at) if due_at is not None else None,
        "warn_at": utc_millis(warn_at) if warn_at is not None else None,
        "citizen_ref": ref,
        "citizen_check": check,
    }


def enrichment_for(event: RequestLifecycleEvent, service: Service, *, due_at: datetime | None = None,
                   warn_at: datetime | None = None, ref: str | None = None,
                   check: str | None = None) -> Enrichment:
    """The enrichment block of an admitted event (:func:`enrichment_record` as a model)."""
    return Enrichment(**enrichment_record(event.region_code, service, due_at=due_at, warn_at=warn_at, ref=ref,
                                          check=check))


def enrich(event: RequestLifecycleEvent, service: Service, *, due_at: datetime | None = None,
           warn_at: datetime | None = None, ref: str | None = None,
           check: str | None = None) -> RequestLifecycleEvent:
    """The event with its enrichment block set (replacing any block a source may have sent)."""
    block = enrichment_for(event, service, due_at=due_at, warn_at=warn_at, ref=ref, check=check)
    return event.model_copy(update={"enrichment": block})
