#!/usr/bin/env bash
# Entry point of the apache/kafka containers of compose.yaml: formats this node's KRaft storage once WITH
# the hub admin's SCRAM-SHA-512 credential (kafka-storage format --add-scram, KIP-900), then hands over to
# the image's own start script. The image formats storage too (kafka.docker.KafkaDockerWrapper), but
# without --add-scram; it finds the storage formatted and goes on (its launch script accepts "already
# formatted"). So the brokers never run without the admin, and no listener is ever open to anyone.
#
# The properties for the format step come from the same KAFKA_* variables, mapped as the image maps them
# (KafkaDockerWrapper.getServerConfigsFromEnv: drop KAFKA_, lower case, "___" -> "-", "__" -> "_",
# "_" -> ".", minus the variables it excludes).
# The admin's password comes from the file HUB_ADMIN_PASSWORD_FILE names (a compose secret); it must be
# URL-safe base64 (what `hub dev credentials` makes): the --add-scram syntax has no quoting.
set -euo pipefail

data="${KAFKA_LOG_DIRS:?KAFKA_LOG_DIRS is not set}"
if [[ ! -f "$data/meta.properties" ]]; then
  password="$(<"${HUB_ADMIN_PASSWORD_FILE:?HUB_ADMIN_PASSWORD_FILE is not set}")"
  password="${password//[$'\t\r\n ']/}"
  if [[ ! "$password" =~ ^[A-Za-z0-9_-]+$ ]]; then
    echo "the admin's password must be URL-safe base64 ([A-Za-z0-9_-]); see deploy/README.md" >&2
    exit 1
  fi
  props="$(mktemp)"
  trap 'rm -f "$props"' EXIT
  excluded=" KAFKA_VERSION KAFKA_HEAP_OPTS KAFKA_LOG4J_OPTS KAFKA_OPTS KAFKA_JMX_OPTS KAFKA_JVM_PERFORMANCE_OPTS \
KAFKA_GC_LOG_OPTS KAFKA_LOG4J_ROOT_LOGLEVEL KAFKA_LOG4J_LOGGERS KAFKA_TOOLS_LOG4J_LOGLEVEL KAFKA_JMX_HOSTNAME "
  while IFS= read -r name; do
    [[ "$excluded" == *" $name "* ]] && continue
    key="${name#KAFKA_}"
    key="${key,,}"
    key="${key//_/.}"
    key="${key//.../-}"
    key="${key//../_}"
    printf '%s=%s\n' "$key" "${!name}" >>"$props"
  done < <(compgen -e | grep '^KAFKA_')
  echo "===> formatting $data with the hub admin's SCRAM credential"
  /opt/kafka/bin/kafka-storage.sh format --cluster-id "${CLUSTER_ID:?CLUSTER_ID is not set}" -c "$props" \
    --add-scram "SCRAM-SHA-512=[name=hub-admin,password=$password]"
fi
exec /etc/kafka/docker/run "$@"
