"""The schema registry's identity provider in the local stack: Keycloak (Quarkus distribution), on loopback.

Keycloak is built once per cache (``kc.sh build`` with :data:`BUILD_OPTIONS`, ~20 s) and then
started ``--optimized`` with an in-memory database, HTTPS only (the dev CA's certificate), a temporary
bootstrap admin *client* (``--bootstrap-admin-client-id/-secret``, master realm) and its management
interface on a free port. :func:`bootstrap_realm` then creates the realm ``hub`` the registry trusts:

* the registry roles ``sr-admin``, ``sr-developer``, ``sr-readonly`` (Apicurio's defaults);
* the client ``hub-admin`` (secret = the hub admin's password), whose service account holds ``sr-admin``
  and the ``realm-management`` rights ``hub access`` needs to keep one client per principal.

Every other principal's client is created by ``hub access apply`` (``hub.access.idp``), never here.
Production runs the regency's own Keycloak (or any OIDC provider Apicurio supports) with the same realm
layout; see ``deploy/README.md``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx

from hub.access.catalogue import ADMIN
from hub.dev.pki import DevPki

REALM = "hub"
#: In-memory database and health endpoints (``--cache=local`` at start: no cluster discovery, which would
#: listen for peers on every interface).
BUILD_OPTIONS = ("--db=dev-mem", "--health-enabled=true")
BOOTSTRAP_CLIENT = "idp-bootstrap"
ADMIN_RIGHTS = ["manage-clients", "view-clients", "query-clients", "manage-users", "view-users",
                "query-users", "view-realm"]


def build(home: Path, java_home: Path) -> None:
    """Build the optimized server once (marker file in the distribution)."""
    marker = home / ".hub-built"
    if marker.exists() and " ".join(BUILD_OPTIONS) in marker.read_text():
        return
    done = subprocess.run([str(home / "bin" / "kc.sh"), "build", *BUILD_OPTIONS],
                          env={"JAVA_HOME": str(java_home), "PATH": "/usr/bin:/bin"}, capture_output=True,
                          text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"building Keycloak failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")
    marker.write_text(f"built for the hub's local stack: {' '.join(BUILD_OPTIONS)}\n")


def command(home: Path, pki: DevPki, port: int, management_port: int, bootstrap_secret: str) -> list[str]:
    return [str(home / "bin" / "kc.sh"), "start", "--optimized",
            "--http-enabled=false", "--http-host=127.0.0.1", f"--https-port={port}",
            f"--https-certificate-file={pki.server_cert}", f"--https-certificate-key-file={pki.server_key}",
            f"--hostname=https://127.0.0.1:{port}", f"--http-management-port={management_port}",
            f"--bootstrap-admin-client-id={BOOTSTRAP_CLIENT}",
            f"--bootstrap-admin-client-secret={bootstrap_secret}", "--cache=local", "--log-level=WARN"]


def realm_url(port: int) -> str:
    return f"https://127.0.0.1:{port}/realms/{REALM}"


def ready(port: int, ca: Path) -> bool:
    try:
        answer = httpx.get(f"https://127.0.0.1:{port}/realms/master/.well-known/openid-configuration",
                           verify=str(ca), timeout=2)
        return answer.status_code == 200
    except httpx.HTTPError:
        return False


def bootstrap_realm(port: int, ca: Path, bootstrap_secret: str, admin_password: str) -> None:
    """Create the realm ``hub`` with its roles and the hub admin's client (see the module doc)."""
    base = f"https://127.0.0.1:{port}"
    with httpx.Client(verify=str(ca), timeout=30) as http:
        token = http.post(f"{base}/realms/master/protocol/openid-connect/token",
                          data={"grant_type": "client_credentials", "client_id": BOOTSTRAP_CLIENT,
                                "client_secret": bootstrap_secret})
        token.raise_for_status()
        realm = {
            "realm": REALM, "enabled": True,
            "roles": {"realm": [{"name": r} for r in ("sr-admin", "sr-developer", "sr-readonly")]},
            "clients": [{"clientId": ADMIN, "enabled": True, "publicClient": False, "secret": admin_password,
                         "serviceAccountsEnabled": True, "standardFlowEnabled": False,
                         "directAccessGrantsEnabled": False, "description": "the hub admin"}],
            "users": [{"username": f"service-account-{ADMIN}", "enabled": True,
                       "serviceAccountClientId": ADMIN, "realmRoles": ["sr-admin"],
                       "clientRoles": {"realm-management": ADMIN_RIGHTS}}],
        }
        answer = http.post(f"{base}/admin/realms", json=realm,
                           headers={"Authorization": f"Bearer {token.json()['access_token']}"})
        if answer.status_code not in (201, 409):
            raise RuntimeError(f"creating the realm {REALM!r} failed: "
                               f"HTTP {answer.status_code} {answer.text[:300]}")
