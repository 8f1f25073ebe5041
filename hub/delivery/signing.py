"""Standard Webhooks signatures, through the ``standardwebhooks`` package (pure: the caller passes the time).

Every request carries ``webhook-id`` (the CloudEvent id: the same event always has the same id, so a
receiver deduplicates by it), ``webhook-timestamp`` (epoch seconds of *this* attempt) and
``webhook-signature``: ``v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` with the endpoint's ``whsec_``
secret. While a secret is being rotated both the new and the previous secret sign, for 24 h
(``ROTATION_OVERLAP``), space-separated as the specification allows: a receiver holding either verifies.

Endpoint verification (:func:`challenge_response`): the package's ``webhook-challenge`` /
``webhook-challenge-response`` pair, an HMAC of the challenge under a key derived from the secret.
"""

from __future__ import annotations

import base64
import binascii
import secrets as _random
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from hub.core.errors import ValidationError
from hub.delivery.schedule import DAY

PREFIX = "whsec_"
ROTATION_OVERLAP = DAY
SECRET_BYTES = 32
MIN_SECRET_BYTES, MAX_SECRET_BYTES = 24, 64


def generate_secret() -> str:
    return PREFIX + base64.b64encode(_random.token_bytes(SECRET_BYTES)).decode()


def check_secret(secret: str, field: str = "secret") -> str:
    """``secret`` if it is a ``whsec_`` secret of 24 to 64 random bytes; else ValidationError (never
    echoing the value)."""
    if not secret.startswith(PREFIX):
        raise ValidationError(field, f"must start with {PREFIX}")
    try:
        raw = base64.b64decode(secret[len(PREFIX):], validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError(field, f"must be {PREFIX} followed by base64") from None
    if not MIN_SECRET_BYTES <= len(raw) <= MAX_SECRET_BYTES:
        raise ValidationError(field, f"must hold {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes, "
                                     f"not {len(raw)}")
    return secret


@lru_cache(maxsize=1024)
def _webhook(secret: str) -> Webhook:
    return Webhook(secret)


def signing_secrets(secret: str, previous: str | None, previous_until: float | None, now: float) -> list[str]:
    """The secrets that sign now: the current one, and the previous one while its overlap lasts."""
    if previous and previous_until is not None and now < previous_until:
        return [secret, previous]
    return [secret]


def rotation_end(now: float, compression: float = 1.0) -> float:
    """Until when the previous secret still signs after a rotation at ``now``."""
    return now + ROTATION_OVERLAP / compression


def headers(secrets: Sequence[str], msg_id: str, timestamp: float, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers for one attempt."""
    at = datetime.fromtimestamp(int(timestamp), UTC)
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(timestamp)),
            "webhook-signature": " ".join(_webhook(s).sign(msg_id, at, body) for s in secrets)}


def challenge_response(secret: str, challenge: str) -> str:
    """What an endpoint holding ``secret`` answers in ``webhook-challenge-response``."""
    return _webhook(secret).endpoint_verification_response(challenge)


def challenge_answered(secret: str, challenge: str, answer: str | None) -> bool:
    if not answer:
        return False
    try:
        _webhook(secret).verify_endpoint_verification_response(challenge, answer)
    except WebhookVerificationError:
        return False
    return True
