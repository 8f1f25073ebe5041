"""One frozen settings object for every process, read from the environment (prefix ``HUB_``)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_serializer, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.errors import HubError

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Everything that differs between a laptop, CI and the production cluster."""

    model_config = SettingsConfigDict(env_prefix="HUB_", frozen=True, extra="ignore")

    # Kafka: comma-separated bootstrap servers; never assume a single broker.
    bootstrap_servers: str = "127.0.0.1:9092"
    registry_url: str = "https://127.0.0.1:8081/apis/ccompat/v7"

    # Client security: one principal per process (hub.wire.clients builds every client from these). Secure
    # by default: SASL_SSL with SCRAM-SHA-512, the brokers' certificates verified against ``kafka_ca_file``.
    # PLAINTEXT is possible for a user's own broker, by setting only.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "SASL_SSL"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    kafka_username: str | None = None
    kafka_password: SecretStr | None = None
    kafka_ca_file: Path | None = Field(None, description="PEM file of the CA that signed the brokers' "
                                       "certificates (unset: the system trust store)")
    # The registry (Confluent API; Apicurio behind an OIDC provider): HTTP basic with the principal's client
    # id and secret (by default the Kafka principal's), its certificate verified against ``registry_ca_file``
    # (default: ``kafka_ca_file``).
    registry_username: str | None = Field(None, description="unset: kafka_username")
    registry_password: SecretStr | None = Field(None, description="unset: kafka_password")
    registry_ca_file: Path | None = Field(None, description="unset: kafka_ca_file")

    # Topic layout. Partitions and replication are cluster configuration, not code.
    topic_partitions: int = Field(6, ge=1)
    replication_factor: int = Field(1, ge=1)
    min_insync_replicas: int = Field(1, ge=1)
    # Intake: each source writes its own topic, writable by that principal alone (hub.access); the worker
    # takes a producer's identity from the topic it wrote to, never from the payload.
    topic_intake_desk: str = "intake.desa.{node}.v1"
    topic_intake_agency: str = "intake.agency.{agency}.v1"
    desk_nodes: str = Field("banyuwangi:35.10", description="village-desk nodes and the region-code "
                            "prefixes each serves: 'node:prefix|prefix,node:prefix' (a desk event for a "
                            "village outside its node's prefixes is an impersonation)")
    topic_feed: str = "mpp.feed.v1"
    topic_dlq: str = "hub.dlq.v1"
    topic_agency_template: str = "agency.{agency}.v1"
    topic_lifecycle: str = Field("", description="an optional log of accepted events under its own name "
                                 "and retention: the same bytes as the MPP feed, which is the record "
                                 "(README, 'Which records an event produces'); empty: not written")
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
    producer_batch_bytes: int = Field(256 * 1024, ge=16 * 1024,
                                      description="largest producer batch per partition")

    # Worker robustness (issue 11): own limits below the brokers', fast failover.
    intake_max_record_bytes: int = Field(64 * 1024, ge=1024, description="largest intake record (key, value "
                                         "and headers) the worker takes; a larger one is a dead letter "
                                         "(too_large). Valid lifecycle events are a few KiB")
    output_max_record_bytes: int = Field(1_000_000, ge=1024, description="largest record the worker writes; "
                                         "an event whose outputs would be larger is a dead letter "
                                         "(too_large)")
    dead_letter_max_bytes: int = Field(2 * 1024 * 1024, ge=1024 * 1024, description="the dead-letter topic's "
                                       "max.message.bytes and the worker producer's largest request: the "
                                       "largest record a broker accepts, plus the reason headers, fits")
    worker_instance_id: str | None = Field(None, description="static group membership (group.instance.id), "
                                           "e.g. the pod name of a StatefulSet: a restarted worker takes its "
                                           "partitions back at once, without a rebalance")
    broker_session_timeout_seconds: float = Field(8.0, ge=6.0, description="how soon a worker that died "
                                                  "without leaving is dropped from the group: failover is "
                                                  "this plus a rebalance and the table's recovery (fault "
                                                  "campaign: 10 s gave 13.8-15.8 s)")
    broker_heartbeat_interval_seconds: float = Field(2.0, gt=0, description="at most a third of the "
                                                     "session timeout")
    # Client time-outs (every client the project builds takes them from here).
    connector_request_timeout_ms: int = Field(15_000, ge=1000, description="how long a connector's producer "
                                              "waits for the broker to answer a send before it retries (the "
                                              "event stays in the outbox meanwhile)")
    admin_request_timeout_ms: int = Field(10_000, ge=1000, description="how long an admin request (topics, "
                                          "ACLs, quotas, offsets, lag) waits for the broker")

    # Lifecycle engine
    table_store: str = Field("memory://", description="faust table store: memory:// (changelog recovery) "
                             "or rocksdb:// (rocksdict, local state kept across restarts)")
    table_standby_replicas: int = Field(0, ge=0, description="warm copies of each table partition kept by "
                                        "other workers. Keep 0 with memory://: the memory store drops "
                                        "standby data after every rebalance (a worker refills a partition "
                                        "from its changelog), while reading the other workers' changelogs "
                                        "costs every worker CPU and stalls its input after a burst (bench/). "
                                        "With rocksdb:// 1 keeps a local copy for a faster failover")
    sla_tick_seconds: float = Field(5.0, gt=0, description="how often the SLA timer looks for due deadlines")
    sla_clock_offset_seconds: float = Field(0.0, description="added to the wall clock by the SLA timer "
                                            "(tests and drills only; 0 in production)")
    sla_index_bucket_seconds: int = Field(60, ge=1)
    citizen_ref_key: SecretStr | None = Field(None, description="HMAC-SHA256 key of the pseudonymous "
                                              "citizen reference; unset = no citizen_ref")

    # Access control (hub.access; `hub access ...` runs as the admin principal).
    access_credentials_dir: Path | None = Field(None, description="folder of the principals' generated "
                                                "passwords (one 0600 file each) that `hub access` creates, "
                                                "rotates and removes; a deployment may hand them out as "
                                                "secrets")
    idp_url: str | None = Field(None, description="OIDC realm URL of the registry's identity provider "
                                "(Keycloak), where `hub access` keeps one client per principal; unset: the "
                                "deployer manages the registry's clients")
    access_suspended: str = Field("", description="comma-separated principals (e.g. agency-pln) that "
                                  "`hub access apply` keeps revoked although the catalogue lists them: a "
                                  "suspension that survives the next apply")
    client_quota_bytes: int = Field(1024 * 1024, ge=1024, description="produce and fetch quota, bytes/s per "
                                    "broker, of each agency, desk, mall and dispatcher principal")

    # Agency connectors (`hub agency run`): how an agency without Kafka hands its status updates over.
    agency_sql_dsn: SecretStr | None = Field(None, description="(b) a PostgreSQL DSN whose hub_outbox table "
                                             "the connector polls (a secret: it holds the password)")
    agency_webhook_secret: SecretStr | None = Field(None, description="(c) whsec_... secret the agency's "
                                                    "signed HTTP callbacks are checked with")

    # Identity of this process on the wire (CloudEvents ce_source).
    source: str = "/hub/worker"

    # --- Service mall (`hub mall serve`, hub/mall/): the view, its API, dashboard and citizen page ---
    mall_database: SecretStr | None = Field(
        None, description="the view's database: postgresql://user:pw@host/db or sqlite:<path>; unset: SQLite "
        "file mall.sqlite in worker_data_dir")
    mall_host: str = "127.0.0.1"
    mall_port: int = Field(8090, ge=0, description="port of the API, dashboard and citizen page (0: any)")
    mall_tokens_file: Path | None = Field(
        None, description="JSON list of staff (name, role, agency, token_sha256); `hub mall token` adds one. "
        "Unset: no staff can sign in")
    mall_session_minutes: int = Field(480, ge=1, description="how long a dashboard sign-in lasts")
    mall_batch_records: int = Field(2000, ge=1, description="records the view applies in one transaction")
    mall_sse_heartbeat_seconds: float = Field(15.0, gt=0, description="comment line on idle live streams")
    mall_sse_buffer: int = Field(
        20000, ge=100, description="recent stream events kept in memory for resuming clients (older ones are "
        "read from the database)")
    mall_citizen_lookups_per_minute: int = Field(
        10, ge=1, description="citizen page look-ups per client address and per request id")
    mall_lead_window_days: int = Field(
        30, ge=1, description="lead time figures cover requests finished this many days back")

    # --- Worker hot path (issue 15): batches end to end; which records an event produces ---
    worker_batch_max: int = Field(500, ge=1, description="most input records the worker takes in one batch "
                                  "(decided, sent and written to its tables together)")
    worker_batch_wait_ms: float = Field(5.0, gt=0, description="longest a batch waits to fill: at low load a "
                                        "batch of one leaves after this")
    # --- end of the worker hot path's settings ---

    @field_validator("mall_database", "mall_tokens_file", mode="before")
    @classmethod
    def _mall_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_serializer("mall_database")
    def _reveal_mall_database(self, value: SecretStr | str | None) -> str:
        # In clear for ``to_env`` (a child process needs the password); repr/str stay masked.
        if value is None:
            return ""
        return value.get_secret_value() if isinstance(value, SecretStr) else str(value)
    # --- end of the service mall's settings ---

    # --- Deployment: the principal's password from a file (compose `secrets:`, a mounted Secret) ---
    kafka_password_file: Path | None = Field(
        None, description="file holding this principal's password (e.g. /run/secrets/hub-worker.password), "
        "read once at start when HUB_KAFKA_PASSWORD is unset; surrounding white space is dropped")

    @field_validator("kafka_password_file", mode="before")
    @classmethod
    def _password_file_unset(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _password_from_file(self) -> Settings:
        # A HubError, not a ValueError: pydantic would wrap the latter with the raw input (other secrets
        # included) in its message. The object is frozen: the password goes in as pydantic puts fields in.
        if self.kafka_password is not None or self.kafka_password_file is None:
            return self
        path = self.kafka_password_file
        try:
            password = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise HubError(f"kafka_password_file: cannot read {str(path)[:200]} ({exc.strerror})") from None
        if not password:
            raise HubError(f"kafka_password_file: {str(path)[:200]} is empty")
        object.__setattr__(self, "kafka_password", SecretStr(password))
        return self
    # --- end of the deployment settings ---

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

    @field_validator("desk_nodes")
    @classmethod
    def _nodes(cls, value: str) -> str:
        for item in value.split(","):
            node, _, prefixes = item.strip().partition(":")
            if not node or not prefixes or not all(p.strip() for p in prefixes.split("|")):
                raise ValueError(f"desk_nodes: {item!r} is not 'node:prefix|prefix'")
            if not node.replace("-", "").isalnum() or not node.islower():
                raise ValueError(f"desk_nodes: node name {node!r} must be lowercase letters, digits and '-'")
        return value

    @field_validator("kafka_password", "kafka_username", "kafka_ca_file", "registry_username",
                     "registry_password", "registry_ca_file", "access_credentials_dir", "idp_url",
                     "worker_instance_id", "agency_sql_dsn", "agency_webhook_secret", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_serializer("citizen_ref_key", "kafka_password", "registry_password", "agency_sql_dsn",
                      "agency_webhook_secret")
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
    def suspended_principals(self) -> frozenset[str]:
        return frozenset(p.strip() for p in self.access_suspended.split(",") if p.strip())

    @property
    def bootstrap_list(self) -> list[str]:
        return self.bootstrap_servers.split(",")

    def to_env(self) -> dict[str, str]:
        """These settings as ``HUB_*`` variables, for a child process."""
        return {f"HUB_{name.upper()}": "" if value is None else str(value)
                for name, value in self.model_dump().items()}

    def agency_topic(self, agency: str) -> str:
        return self.topic_agency_template.format(agency=agency)

    def desk_intake_topic(self, node: str) -> str:
        return self.topic_intake_desk.format(node=node)

    def agency_intake_topic(self, agency: str) -> str:
        return self.topic_intake_agency.format(agency=agency)

    @property
    def desk_node_prefixes(self) -> dict[str, tuple[str, ...]]:
        """Each village-desk node and the region-code prefixes it serves, in the order given."""
        out: dict[str, tuple[str, ...]] = {}
        for item in self.desk_nodes.split(","):
            node, _, prefixes = item.strip().partition(":")
            out[node] = tuple(p.strip() for p in prefixes.split("|"))
        return out

    def desk_node_for(self, region_code: str) -> str:
        """The desk node serving a village (the longest matching prefix); LookupError if none does."""
        best, length = None, -1
        for node, prefixes in self.desk_node_prefixes.items():
            for prefix in prefixes:
                if region_code.startswith(prefix) and len(prefix) > length:
                    best, length = node, len(prefix)
        if best is None:
            raise LookupError(f"no desk node serves region {region_code!r} (desk_nodes={self.desk_nodes!r})")
        return best

    def as_principal(self, username: str, password: str) -> Settings:
        """These settings for another principal (same hub, other credentials)."""
        return self.model_copy(update={"kafka_username": username, "kafka_password": SecretStr(password),
                                       "registry_username": None, "registry_password": None})
    # ---- Push delivery (hub/delivery/: `hub deliver`, `hub subscriptions`, `hub deliveries`) -----------
    delivery_store: SecretStr | None = Field(None, description="where endpoints, parked deliveries and "
                                             "the attempt log live: a postgresql:// DSN (production; a "
                                             "secret: it holds the password), sqlite:///<path>, or unset = "
                                             "SQLite file delivery.sqlite in worker_data_dir")
    delivery_group: str | None = Field(None, description="consumer group of the dispatchers, under the "
                                       "dispatcher principal's prefix (unset: dispatcher.<app_id>)")
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
        # under the dispatcher principal's own prefix (hub.access.catalogue.DISPATCHER_GROUP_PREFIX)
        return self.delivery_group or f"dispatcher.{self.app_id}"


@cache
def get_settings() -> Settings:
    return Settings()
