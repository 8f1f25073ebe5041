#!/usr/bin/env bash
# Entry point wrapper for third-party images that take a secret only from an environment variable
# (Keycloak's KC_DB_PASSWORD and realm-import placeholders, Apicurio's APICURIO_DATASOURCE_PASSWORD):
# for every variable NAME__FILE it exports NAME with the content of that file (a compose secret, surrounding
# white space dropped) and unsets NAME__FILE, then runs the image's own command. So no password is ever
# written in compose.yaml, and none appears on a command line.
set -euo pipefail
while IFS= read -r var; do
  name="${var%__FILE}"
  value="$(<"${!var}")"
  value="${value#"${value%%[![:space:]]*}"}"
  value="${value%"${value##*[![:space:]]}"}"
  export "$name=$value"
  unset "$var"
done < <(compgen -e | grep -E '^[A-Za-z_][A-Za-z0-9_]*__FILE$' || true)
exec "$@"
