"""The catalogue in the registry's identity provider: one confidential OIDC client per principal (Keycloak).

Apicurio Registry 3 authenticates the Confluent-API clients' HTTP basic credentials by exchanging them
for a token at its OIDC provider (``apicurio.authn.basic-client-credentials.enabled``, client
credentials grant) and authorises by the token's realm roles (``apicurio.auth.role-based-authorization``:
``sr-admin`` may change anything, ``sr-readonly`` only read). So each principal is a Keycloak client whose
id is the principal's name and whose secret is the principal's password, with its service account holding
the catalogue's registry role. The hub admin's own client holds ``realm-management`` rights to keep them
(Keycloak admin REST API, ``/admin/realms/<realm>/clients``).
"""

from __future__ import annotations

from typing import Any

import httpx

from hub.settings import Settings
from hub.wire.clients import registry_ca, registry_credentials

TIMEOUT = 15.0


class IdentityProvider:
    """``IdentityProvider(settings)`` as the hub admin; ``settings.idp_url`` is the realm URL."""

    def __init__(self, settings: Settings):
        if not settings.idp_url:
            raise LookupError("HUB_IDP_URL is not set: no identity provider to keep registry clients in")
        credentials = registry_credentials(settings)
        if credentials is None:
            raise LookupError("the hub admin's credentials are needed to manage the identity provider")
        self.realm_url = settings.idp_url.rstrip("/")
        base, _, self.realm = self.realm_url.rpartition("/realms/")
        self.admin_url = f"{base}/admin/realms/{self.realm}"
        self._credentials = credentials
        self._http = httpx.Client(verify=registry_ca(settings) or True, timeout=TIMEOUT)
        self._token: str | None = None

    def close(self) -> None:
        self._http.close()

    def _auth(self) -> dict[str, str]:
        if self._token is None:
            client_id, secret = self._credentials
            answer = self._http.post(f"{self.realm_url}/protocol/openid-connect/token",
                                     data={"grant_type": "client_credentials", "client_id": client_id,
                                           "client_secret": secret})
            answer.raise_for_status()
            self._token = answer.json()["access_token"]
        return {"Authorization": f"Bearer {self._token}"}

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        answer = self._http.request(method, f"{self.admin_url}{path}", json=body, headers=self._auth())
        if answer.status_code == 401:  # token expired: once more with a fresh one
            self._token = None
            answer = self._http.request(method, f"{self.admin_url}{path}", json=body, headers=self._auth())
        answer.raise_for_status()
        return answer.json() if answer.content else None

    def _client_uuid(self, client_id: str) -> str | None:
        found = self._call("GET", f"/clients?clientId={client_id}")
        return found[0]["id"] if found else None

    def ensure_client(self, client_id: str, secret: str, role: str) -> bool:
        """Create or update the principal's client (secret and registry role); True if it was created."""
        uuid = self._client_uuid(client_id)
        spec = {"clientId": client_id, "enabled": True, "publicClient": False, "secret": secret,
                "serviceAccountsEnabled": True, "standardFlowEnabled": False,
                "directAccessGrantsEnabled": False, "description": "hub principal (hub access)"}
        created = uuid is None
        if created:
            self._call("POST", "/clients", spec)
            uuid = self._client_uuid(client_id)
        else:
            self._call("PUT", f"/clients/{uuid}", spec)
        account = self._call("GET", f"/clients/{uuid}/service-account-user")["id"]
        held = {r["name"] for r in self._call("GET", f"/users/{account}/role-mappings/realm")}
        if role not in held:
            self._call("POST", f"/users/{account}/role-mappings/realm", [self._call("GET", f"/roles/{role}")])
        stale = [r for r in ("sr-admin", "sr-developer", "sr-readonly") if r != role and r in held]
        if stale:
            self._call("DELETE", f"/users/{account}/role-mappings/realm",
                       [self._call("GET", f"/roles/{r}") for r in stale])
        return created

    def remove_client(self, client_id: str) -> bool:
        uuid = self._client_uuid(client_id)
        if uuid is None:
            return False
        self._call("DELETE", f"/clients/{uuid}")
        return True

    def clients(self) -> list[str]:
        return sorted(c["clientId"] for c in self._call("GET", "/clients?max=1000")
                      if c.get("description") == "hub principal (hub access)")
