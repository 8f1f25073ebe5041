"""Push delivery: agency topics to agency HTTPS endpoints, signed per Standard Webhooks (issue 13).

A separate process, ``hub deliver`` (:mod:`hub.delivery.dispatcher`), consumes the agency topics
``agency.<code>.v1`` and POSTs each event an endpoint's filters select, as CloudEvents JSON with the
minimised record the agency already gets on its topic, to that endpoint. Retries follow a schedule of
about three days; every pending attempt is parked durably before the input offset moves on.

Pure core (no I/O; unit-tested, hypothesis where it fits):

* :mod:`~hub.delivery.filters`   which events an endpoint wants (types, services, statuses, regions)
* :mod:`~hub.delivery.schedule`  the retry schedule, jitter, Retry-After, time compression
* :mod:`~hub.delivery.breaker`   per-endpoint circuit breaker
* :mod:`~hub.delivery.throttle`  per-endpoint rate limit (token bucket)
* :mod:`~hub.delivery.signing`   Standard Webhooks headers, ``whsec_`` secrets, rotation overlap
* :mod:`~hub.delivery.payload`   the JSON body (CloudEvents structured mode) and the audit entry
* :mod:`~hub.delivery.outcome`   what an HTTP answer means: delivered, retry when, disable
* :mod:`~hub.delivery.urlpolicy` the SSRF policy: https only, public addresses only
* :mod:`~hub.delivery.offsets`   which input offset may be committed
* :mod:`~hub.delivery.model`     the plain records (endpoint, delivery, attempt, notice)

Shell:

* :mod:`~hub.delivery.store`     the ``SubscriptionStore`` protocol and :func:`open_store`
* :mod:`~hub.delivery.sqlstore`  its one SQL implementation (tables in :mod:`~hub.delivery.sqlschema`), over
  :mod:`~hub.delivery.db` (SQLite or PostgreSQL)
* :mod:`~hub.delivery.sender`    the HTTP client (aiohttp, SSRF-guarded resolver), challenge verification
* :mod:`~hub.delivery.reader`    decoding agency-topic records, fetching one again by offset
* :mod:`~hub.delivery.lanes`     per-endpoint queues with a few requests in flight
* :mod:`~hub.delivery.fleet`     the lanes kept in step with the store, gauges, purge
* :mod:`~hub.delivery.journal`   the single writer: admission, outcomes, offsets, in one transaction
* :mod:`~hub.delivery.scheduler` parked deliveries falling due, fed to their lanes
* :mod:`~hub.delivery.dispatcher` ``hub deliver``'s consumer and lane host; :mod:`~hub.delivery.process` the
  process (dispatcher + admin API)
* :mod:`~hub.delivery.service`   endpoint and delivery management shared by the API and the CLI
* :mod:`~hub.delivery.api`       the authenticated admin HTTP API (FastAPI); :mod:`~hub.delivery.tokens` its
  bearer tokens
* :mod:`~hub.delivery.receiver`  a reference receiver (verifies signatures; the demo's and the tests' agency)
* :mod:`~hub.delivery.demo`      the demo's webhook agency
"""
