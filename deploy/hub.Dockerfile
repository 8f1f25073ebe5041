# The hub's image: workers, connectors and tools (`hub ...`). Build from the repository root:
#   docker build -f deploy/hub.Dockerfile -t banyuwangi-hub .
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY hub ./hub
COPY schemas ./schemas
# confluent-kafka: `hub access` (hub.access.broker: SCRAM and ACL admin calls); cryptography: `hub dev pki`.
# Neither is a runtime dependency in pyproject.toml (yet), but the image runs both in production.
RUN pip install . "confluent-kafka>=2.10,<3" "cryptography>=42" && useradd --uid 10001 --create-home hub && mkdir -p /var/lib/hub && chown hub /var/lib/hub
USER 10001
ENV HUB_SCHEMAS_DIR=/app/schemas HUB_WORKER_DATA_DIR=/var/lib/hub HUB_METRICS_PORT=9464
EXPOSE 9464
CMD ["hub", "worker"]
