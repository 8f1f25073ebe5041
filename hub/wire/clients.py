"""Client arguments for every Kafka and registry client of the hub, from ``Settings``, in one place.

Every process builds its clients through these functions: the worker (Faust), connectors, the desk,
the dispatcher, the mall service, the dlq CLI, the lag poller, ``hub status``, the bench and the demo.
The security protocol, SASL mechanism, principal, password (a secret) and the CA file that verifies the
brokers' certificates all come from ``Settings`` (``HUB_KAFKA_*``, ``HUB_REGISTRY_*``); nothing else
decides them, so a deployment changes them in one place.

* :func:`kafka_options` -- keyword arguments for aiokafka's producer, consumer and admin client.
* :func:`faust_options` -- keyword arguments for ``faust.App`` (``broker`` and ``broker_credentials``).
* :func:`confluent_options` -- a configuration dict for confluent-kafka (an agency integrator's client).
* :func:`registry` -- a schema-registry client with the settings' credentials.
"""

from __future__ import annotations

import ssl
from functools import lru_cache
from typing import Any

from hub import compat
from hub.settings import Settings
from hub.wire.registry import SchemaRegistry

# Every process that builds a Kafka client reads records through the consumer-boundary patch (a header key
# that is not UTF-8 must not kill a consumer: hub.compat), and refuses library versions it was not written
# for.
compat.tolerate_unreadable_headers()


@lru_cache(maxsize=16)
def _ssl_context(cafile: str | None) -> ssl.SSLContext:
    from aiokafka.helpers import create_ssl_context

    # Verifies the broker's certificate and host name against ``cafile`` (the system store without one).
    return create_ssl_context(cafile=cafile)


def _uses_ssl(settings: Settings) -> bool:
    return settings.kafka_security_protocol in ("SSL", "SASL_SSL")


def _uses_sasl(settings: Settings) -> bool:
    return settings.kafka_security_protocol in ("SASL_PLAINTEXT", "SASL_SSL")


def kafka_options(settings: Settings) -> dict[str, Any]:
    """``bootstrap_servers`` and the security arguments of aiokafka clients."""
    options: dict[str, Any] = {"bootstrap_servers": settings.bootstrap_list,
                               "security_protocol": settings.kafka_security_protocol}
    if _uses_ssl(settings):
        options["ssl_context"] = _ssl_context(str(settings.kafka_ca_file) if settings.kafka_ca_file else None)
    if _uses_sasl(settings):
        options.update(sasl_mechanism=settings.kafka_sasl_mechanism,
                       sasl_plain_username=settings.kafka_username,
                       sasl_plain_password=(settings.kafka_password.get_secret_value()
                                            if settings.kafka_password else None))
    return options


def faust_options(settings: Settings) -> dict[str, Any]:
    """``broker`` and ``broker_credentials`` for ``faust.App``."""
    import faust

    scheme = "kafka"
    broker = [f"{scheme}://{server}" for server in settings.bootstrap_list]
    credentials: Any = None
    if _uses_sasl(settings):
        credentials = faust.SASLCredentials(
            username=settings.kafka_username,
            password=settings.kafka_password.get_secret_value() if settings.kafka_password else None,
            mechanism=settings.kafka_sasl_mechanism,
            ssl_context=(_ssl_context(str(settings.kafka_ca_file) if settings.kafka_ca_file else None)
                         if _uses_ssl(settings) else None))
    elif _uses_ssl(settings):
        credentials = faust.SSLCredentials(
            _ssl_context(str(settings.kafka_ca_file) if settings.kafka_ca_file else None))
    return {"broker": broker, "broker_credentials": credentials}


def confluent_options(settings: Settings) -> dict[str, Any]:
    """librdkafka configuration (confluent-kafka), as an agency integrator would write it."""
    conf: dict[str, Any] = {"bootstrap.servers": settings.bootstrap_servers,
                            "security.protocol": settings.kafka_security_protocol}
    if _uses_ssl(settings) and settings.kafka_ca_file:
        conf["ssl.ca.location"] = str(settings.kafka_ca_file)
    if _uses_sasl(settings):
        conf.update({"sasl.mechanisms": settings.kafka_sasl_mechanism,
                     "sasl.username": settings.kafka_username or "",
                     "sasl.password": (settings.kafka_password.get_secret_value() if settings.kafka_password
                                       else "")})
    return conf


def registry_credentials(settings: Settings) -> tuple[str, str] | None:
    """(client id, secret) the registry authenticates this process with: the registry's own settings,
    else the Kafka principal's (one principal, one secret); None without any."""
    user = settings.registry_username or settings.kafka_username
    secret = settings.registry_password or settings.kafka_password
    if not user or secret is None:
        return None
    return user, secret.get_secret_value()


def registry_ca(settings: Settings) -> str | None:
    ca = settings.registry_ca_file or settings.kafka_ca_file
    return str(ca) if ca else None


def registry(settings: Settings) -> SchemaRegistry:
    """The schema registry client of these settings (HTTP basic with the principal's credentials; the
    registry's certificate verified against the CA file, or the system store)."""
    return SchemaRegistry(settings.registry_url, auth=registry_credentials(settings),
                          verify=registry_ca(settings) or True)


def confluent_registry_options(settings: Settings) -> dict[str, Any]:
    """confluent-kafka ``SchemaRegistryClient`` configuration, as an agency integrator would write it."""
    conf: dict[str, Any] = {"url": settings.registry_url}
    credentials = registry_credentials(settings)
    if credentials:
        conf["basic.auth.user.info"] = ":".join(credentials)
    ca = registry_ca(settings)
    if ca:
        conf["ssl.ca.location"] = ca
    return conf
