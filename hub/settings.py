"""One frozen settings object for every process, read from the environment (prefix ``HUB_``)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_serializer, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Everything that differs between a laptop, CI and the production cluster."""

    model_config = SettingsConfigDict(env_prefix="HUB_", frozen=True, extra="ignore")

    # Kafka: comma-separated bootstrap servers; never assume a single broker.
    bootstrap_servers: str = "127.0.0.1:9092"
    registry_url: str = "http://127.0.0.1:8080/apis/ccompat/v7"

    # Kafka client security: one principal per process (hub.wire.clients builds every client from these).
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: str = "SCRAM-SHA-512"
    kafka_username: str | None = None
    kafka_password: SecretStr | None = None
    kafka_ca_file: Path | None = Field(None, description="PEM file of the CA that signed the brokers' "
                                       "certificates (unset: the system trust store)")

    # Topic layout. Partitions and replication are cluster configuration, not code.
    topic_partitions: int = Field(6, ge=1)
    replication_factor: int = Field(1, ge=1)
    min_insync_replicas: int = Field(1, ge=1)
    topic_intake: str = "hub.intake.v1"
    topic_feed: str = "mpp.feed.v1"
    topic_dlq: str = "hub.dlq.v1"
    topic_agency_template: str = "agency.{agency}.v1"
    topic_lifecycle: str = "hub.lifecycle.v1"
    topic_notify: str = "citizen.notify.v1"
    topic_audit: str = "hub.audit.v1"
    topic_sla: str = "hub.sla.v1"

    # Worker
    app_id: str = "banyuwangi-hub"
    worker_data_dir: Path = Path("/tmp/banyuwangi-hub")
    metrics_port: int = Field(9464, ge=0, description="0 disables the /metrics endpoint")
    schemas_dir: Path = REPO_ROOT / "schemas"
    producer_linger_ms: int = Field(5, ge=0, description="how long the worker's producer waits to fill a "
                                    "batch: fewer, larger produce requests cost the brokers far less CPU")
    producer_batch_bytes: int = Field(256 * 1024, ge=16 * 1024, description="largest producer batch per partition")

    # Lifecycle engine
    table_store: str = Field("memory://", description="faust table store: memory:// (changelog recovery) "
                             "or rocksdb:// (rocksdict, local state kept across restarts)")
    table_standby_replicas: int = Field(0, ge=0, description="warm copies of each table partition kept by "
                                        "other workers. Keep 0 with memory://: the memory store drops standby "
                                        "data after every rebalance (a worker refills a partition from its "
                                        "changelog), while reading the other workers' changelogs costs every "
                                        "worker CPU and stalls its input after a burst (bench/). With rocksdb:// "
                                        "1 keeps a local copy for a faster failover")
    sla_tick_seconds: float = Field(5.0, gt=0, description="how often the SLA timer looks for due deadlines")
    sla_clock_offset_seconds: float = Field(0.0, description="added to the wall clock by the SLA timer "
                                            "(tests and drills only; 0 in production)")
    sla_index_bucket_seconds: int = Field(60, ge=1)
    citizen_ref_key: SecretStr | None = Field(None, description="HMAC-SHA256 key of the pseudonymous "
                                              "citizen reference; unset = no citizen_ref")

    # Identity of this process on the wire (CloudEvents ce_source).
    source: str = "/hub/worker"

    @field_validator("bootstrap_servers")
    @classmethod
    def _servers(cls, value: str) -> str:
        servers = [s.strip() for s in value.split(",") if s.strip()]
        if not servers:
            raise ValueError("bootstrap_servers: at least one host:port is needed")
        for server in servers:
            host, _, port = server.rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"bootstrap_servers: {server!r} is not host:port")
        return ",".join(servers)

    @field_validator("citizen_ref_key", mode="before")
    @classmethod
    def _empty_key(cls, value: object) -> object:
        return None if value in ("", None) else value

    @field_validator("kafka_password", "kafka_username", "kafka_ca_file", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_serializer("citizen_ref_key", "kafka_password")
    def _reveal_key(self, value: SecretStr | str | None) -> str:
        # Dumped in clear so ``to_env`` hands the real secret to a child process; repr/str stay masked.
        if value is None:
            return ""
        return value.get_secret_value() if isinstance(value, SecretStr) else str(value)

    @property
    def topic_timer(self) -> str:
        """Internal: SLA timer ticks, keyed by request id (per app, co-partitioned with intake)."""
        return f"{self.app_id}.sla-timer"

    @property
    def topic_journey(self) -> str:
        """Internal: accepted child events re-keyed by their journey (parent request id)."""
        return f"{self.app_id}.journey-steps"

    def changelog_topic(self, table: str) -> str:
        """Faust's name for a table's changelog topic."""
        return f"{self.app_id}-{table}-changelog"

    @property
    def bootstrap_list(self) -> list[str]:
        return self.bootstrap_servers.split(",")

    def to_env(self) -> dict[str, str]:
        """These settings as ``HUB_*`` variables, for a child process."""
        return {f"HUB_{name.upper()}": "" if value is None else str(value)
                for name, value in self.model_dump().items()}

    def agency_topic(self, agency: str) -> str:
        return self.topic_agency_template.format(agency=agency)

    # ---- Push delivery (hub/delivery/: `hub deliver`, `hub subscriptions`, `hub deliveries`) -----------
    delivery_store: SecretStr | None = Field(None, description="where endpoints, parked deliveries and "
                                             "the attempt log live: a postgresql:// DSN (production; a "
                                             "secret: it holds the password), sqlite:///<path>, or unset = "
                                             "SQLite file delivery.sqlite in worker_data_dir")
    delivery_group: str | None = Field(None, description="consumer group of the dispatchers "
                                       "(unset: <app_id>-dispatcher)")
    delivery_source: str = Field("/hub/dispatcher", description="ce_source of the audit entries the "
                                 "dispatcher writes")
    delivery_allow_http: bool = Field(False, description="allow http:// endpoint URLs (tests, demo; never in "
                                      "production)")
    delivery_allow_private_networks: bool = Field(False, description="allow endpoints that resolve to "
                                                  "loopback, private, link-local or other non-public "
                                                  "addresses (tests, demo, an agency on the same LAN)")
    delivery_time_compression: float = Field(1.0, gt=0, description="divides every delivery interval (retry "
                                             "schedule, breaker window and probes, 5-day disable, 24 h "
                                             "secret overlap): tests and demos only, 1 in production")
    delivery_timeout_seconds: float = Field(15.0, gt=0, description="whole HTTP request to an endpoint")
    delivery_connect_timeout_seconds: float = Field(5.0, gt=0)
    delivery_verify_timeout_seconds: float = Field(10.0, gt=0, description="how long a new endpoint has to "
                                                   "answer its verification challenge")
    delivery_max_in_flight: int = Field(4, ge=1, le=64, description="requests in flight per endpoint")
    delivery_queue_limit: int = Field(1024, ge=1, description="deliveries an endpoint may have waiting in "
                                      "memory; beyond, new ones are parked in the store (a slow endpoint "
                                      "never holds the consumer)")
    delivery_batch_max: int = Field(500, ge=1, description="records the dispatcher reads per batch")
    delivery_poll_seconds: float = Field(1.0, gt=0, description="how often parked deliveries falling due "
                                         "are looked for (sooner when one is known to fall due)")
    delivery_refresh_seconds: float = Field(5.0, gt=0, description="how often endpoint changes made by the "
                                            "API or CLI are picked up")
    delivery_retention_days: float = Field(30.0, gt=0, description="attempt log and finished deliveries "
                                           "are purged after this")
    delivery_api_host: str = "127.0.0.1"
    delivery_api_port: int = Field(0, ge=0, description="admin API of `hub deliver` (0: none)")
    delivery_api_tokens_file: Path | None = Field(None, description='JSON {"admin": "<token>", '
                                                  '"<agency>": "<token>"}: bearer tokens of the admin API')

    @field_validator("delivery_store", "delivery_group", "delivery_api_tokens_file", mode="before")
    @classmethod
    def _delivery_empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_serializer("delivery_store")
    def _reveal_store(self, value: SecretStr | None) -> str:
        return "" if value is None else value.get_secret_value()  # to_env hands it to child processes

    @property
    def delivery_consumer_group(self) -> str:
        return self.delivery_group or f"{self.app_id}-dispatcher"


@cache
def get_settings() -> Settings:
    return Settings()
