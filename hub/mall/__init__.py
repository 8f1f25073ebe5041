"""The service mall's own service (``hub mall serve``): a materialised view of the mall feed, the SLA topic
and the audit topic, an HTTP API with a live stream, the staff dashboard and the citizen page.

* :mod:`hub.mall.view` -- pure: records folded into request rows, disclosures, status texts;
* :mod:`hub.mall.summary` -- pure: the counts a manager reads (open, at risk, breached, lead time);
* :mod:`hub.mall.store` -- the one ``ViewStore`` interface over SQL (:mod:`hub.mall.sqlite`,
                                                                     :mod:`hub.mall.postgres`);
* :mod:`hub.mall.consumer` -- the follower of the three topics, offsets kept with the rows;
* :mod:`hub.mall.stream` -- the server-sent-event fan-out, resumable by ``Last-Event-ID``;
* :mod:`hub.mall.auth`, :mod:`hub.mall.citizen`, :mod:`hub.mall.disclosures` -- staff, the citizen page,
  "who received my data";
* :mod:`hub.mall.api` -- the FastAPI app (OpenAPI in ``docs/openapi-mall.json``) and the static pages;
* :mod:`hub.mall.service` -- the process: store + follower + API server.

The service holds no NIK, name or phone: the feed carries none, and the citizen's second factor and the
disclosure key are keyed hashes computed by the hub (``hub.core.enrichment``).
"""
