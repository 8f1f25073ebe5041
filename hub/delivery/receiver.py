"""A reference receiver of the hub's webhooks (FastAPI): what an agency's endpoint has to do, in 60 lines.

* answer the verification challenge: ``webhook-challenge`` in, ``webhook-challenge-response`` out (with
  the secret), or the challenge echoed in the body;
* verify ``webhook-signature`` with the ``standardwebhooks`` package (any of the secrets it holds: during
  a rotation the hub signs with both);
* deduplicate by ``webhook-id`` (the same event may arrive twice: delivery is at least once) and order a
  request's events by ``sequence``;
* answer 2xx quickly (the hub waits 15 s at most); 410 to unsubscribe; 429/503 with ``Retry-After`` to
  slow the hub down.

The demo, the tests and the benchmark's latency probe use it; ``reply`` decides each answer (a failing,
rate-limiting or gone endpoint), ``received`` keeps what came in.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request, Response
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from hub.delivery import signing
from hub.http.errors import install

PATH = "/webhooks/hub"


@dataclass(frozen=True, slots=True)
class Received:
    webhook_id: str
    timestamp: str
    signature: str
    body: bytes
    at: float
    verified: bool

    @property
    def doc(self) -> dict[str, Any]:
        return dict(json.loads(self.body))

    def headers(self) -> dict[str, str]:
        """The Standard Webhooks headers it came with (to verify it again with another secret)."""
        return {"webhook-id": self.webhook_id, "webhook-timestamp": self.timestamp,
                "webhook-signature": self.signature}


#: (status, headers) of an answer.
Reply = tuple[int, dict[str, str]]


class Receiver:
    def __init__(self, secrets: Sequence[str] = (), *, reply: Callable[[Received], Reply] | None = None,
                 on_receive: Callable[[Received, int], None] | None = None):
        self.secrets = list(secrets)
        self.reply = reply or (lambda _: (200, {}))
        self.on_receive = on_receive
        self.received: list[Received] = []  # answered 2xx
        self.attempts: list[tuple[Received, int]] = []  # every request but challenges, with its answer
        self.challenges = 0
        self.app = install(FastAPI(title="webhook receiver"))
        self.app.add_api_route(PATH, self._hook, methods=["POST"])

    def verified(self, body: bytes, headers: dict[str, str]) -> bool:
        for secret in self.secrets:
            try:
                Webhook(secret).verify(body, headers, json_parse=False)
                return True
            except WebhookVerificationError:
                continue
        return False

    async def _hook(self, request: Request) -> Response:
        body = await request.body()
        headers = dict(request.headers)
        challenge = headers.get("webhook-challenge")
        if challenge is not None:
            self.challenges += 1
            if self.secrets:
                answer = signing.challenge_response(self.secrets[0], challenge)
                return Response(status_code=200, headers={"webhook-challenge-response": answer})
            return Response(json.dumps({"challenge": challenge}), media_type="application/json")
        got = Received(headers.get("webhook-id", ""), headers.get("webhook-timestamp", ""),
                       headers.get("webhook-signature", ""), body, time.time(), self.verified(body, headers))
        status, extra = self.reply(got)
        self.attempts.append((got, status))
        if 200 <= status < 300:
            self.received.append(got)
        if self.on_receive is not None:
            self.on_receive(got, status)
        return Response(status_code=status, headers=extra)

    def ids(self) -> set[str]:
        return {r.webhook_id for r in self.received}
