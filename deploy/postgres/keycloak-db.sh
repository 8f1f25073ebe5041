#!/usr/bin/env bash
# Run once by the postgres image on an empty data folder (/docker-entrypoint-initdb.d): the identity
# provider's own database and role, next to the registry's (POSTGRES_DB). The password comes from the
# compose secret keycloak-db.password; psql quotes it (:'pw'), nothing is interpolated into SQL by the shell.
set -euo pipefail
password="$(</run/secrets/keycloak-db.password)"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" -v pw="${password//[$'\t\r\n ']/}" <<'SQL'
CREATE ROLE keycloak LOGIN PASSWORD :'pw';
CREATE DATABASE keycloak OWNER keycloak;
SQL
