"""A development certificate authority for the local stack: one CA, one server certificate, PEM files.

Made at start-up into the stack's state folder (never committed, never reused across stacks):

* ``ca.pem``            the CA certificate clients verify the brokers, the registry and the identity
                        provider with (``HUB_KAFKA_CA_FILE``, ``HUB_REGISTRY_CA_FILE``);
* ``server.pem``        the private key (PKCS#8, unencrypted: the folder is 0700) followed by the
                        certificate chain, the layout Kafka's ``ssl.keystore.type=PEM`` reads from
                        ``ssl.keystore.location`` (KIP-651);
* ``server-cert.pem`` / ``server-key.pem``  the same, split, for Quarkus (Apicurio, Keycloak);
* ``truststore.p12``    the CA as a Java trust store (for the registry's calls to the identity provider).

The server certificate names ``localhost`` and ``127.0.0.1`` (clients check host names) and carries
both ``serverAuth`` and ``clientAuth``: brokers present it to each other on the mutual-TLS controller
and inter-broker listeners, where its common name ``broker`` becomes the principal ``User:broker``
(``ssl.principal.mapping.rules``). Production uses the regency's own PKI instead.

:func:`make_service_pki` makes the same files for a deployment on one host (``hub dev pki``, the
``certs`` service of ``deploy/compose.yaml``): one CA, and one certificate per server named after its
host names, only the brokers' able to act as a client.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

BROKER_CN = "broker"
VALIDITY = dt.timedelta(days=30)


#: Password of the Java trust store: it holds only the public CA certificate, so it protects nothing.
TRUSTSTORE_PASSWORD = "hub-dev-ca"


@dataclass(frozen=True)
class DevPki:
    ca: Path
    server: Path  # key + chain (Kafka)
    server_cert: Path
    server_key: Path
    truststore: Path


def _name(cn: str) -> x509.Name:
    # The common name alone: the brokers map "CN=<name>" to the principal "User:<name>".
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _ca(now: dt.datetime, validity: dt.timedelta) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Banyuwangi hub development CA"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "development only, never production")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now).not_valid_after(now + validity)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, encipher_only=False,
                                       decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    return ca_key, ca


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _leaf(ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate, cn: str, hosts: Sequence[str],
          now: dt.datetime, validity: dt.timedelta, *, client_auth: bool
          ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A server certificate for ``hosts`` signed by the CA; ``client_auth``: it may also prove ``cn`` as a
    client (the brokers on their mutual-TLS listeners), otherwise it is refused as a client certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    usages = [ExtendedKeyUsageOID.SERVER_AUTH] + ([ExtendedKeyUsageOID.CLIENT_AUTH] if client_auth else [])
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + validity)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([_san(h) for h in hosts]), critical=False)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    return key, cert


def _write_ca(ca: x509.Certificate, ca_path: Path, truststore: Path) -> bytes:
    ca_pem = ca.public_bytes(serialization.Encoding.PEM)
    _write(ca_path, ca_pem)
    _write(truststore, pkcs12.serialize_java_truststore(
        [pkcs12.PKCS12Certificate(ca, b"hub-dev-ca")],
        serialization.BestAvailableEncryption(TRUSTSTORE_PASSWORD.encode())))
    os.chmod(ca_path, 0o644)
    return ca_pem


def _write_server(pki: DevPki, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate,
                  ca_pem: bytes) -> None:
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    _write(pki.server, _pem_key(key) + cert_pem + ca_pem)
    _write(pki.server_cert, cert_pem + ca_pem)
    _write(pki.server_key, _pem_key(key))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)


def make_dev_pki(folder: Path) -> DevPki:
    """A fresh CA and server certificate in ``folder`` (created 0700); returns the file paths."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    now = _now()
    ca_key, ca = _ca(now, VALIDITY)
    key, cert = _leaf(ca_key, ca, BROKER_CN, ("localhost", "127.0.0.1"), now, VALIDITY, client_auth=True)
    pki = DevPki(folder / "ca.pem", folder / "server.pem", folder / "server-cert.pem",
                 folder / "server-key.pem", folder / "truststore.p12")
    _write_server(pki, key, cert, _write_ca(ca, pki.ca, pki.truststore))
    return pki


def make_service_pki(folder: Path, servers: Mapping[str, Sequence[str]], *, validity: dt.timedelta = VALIDITY,
                     key_mode: int = 0o600) -> dict[str, DevPki]:
    """One CA and one certificate per server (a deployment on one host: ``deploy/compose.yaml``).

    Layout: ``folder/ca/{ca.pem,truststore.p12}`` and ``folder/<name>/{server.pem,server-cert.pem,
    server-key.pem}`` for each ``name -> host names`` of ``servers``; the certificate's common name is
    ``name``. Only the :data:`BROKER_CN` certificate may act as a client (the brokers' mutual-TLS
    listeners map its CN to the super user ``User:broker``); the others carry ``serverAuth`` alone, so a
    registry's or identity provider's key can never authenticate to the brokers. Each server's folder is
    meant to be mounted by that server alone; ``key_mode`` is the mode of its key files (a container that
    runs as another user than the one writing them needs 0644 in a volume only it mounts). The CA's key is
    never written: renewing means a new CA (``hub dev pki --force``). Production uses the regency's PKI."""
    now = _now()
    ca_key, ca = _ca(now, validity)
    (folder / "ca").mkdir(parents=True, exist_ok=True)
    ca_pem = _write_ca(ca, folder / "ca" / "ca.pem", folder / "ca" / "truststore.p12")
    os.chmod(folder / "ca" / "truststore.p12", 0o644)  # public: the CA certificate only
    out = {}
    for name, hosts in servers.items():
        if not hosts:
            raise ValueError(f"server {name!r}: at least one host name is needed")
        own = folder / name
        own.mkdir(parents=True, exist_ok=True)
        pki = DevPki(folder / "ca" / "ca.pem", own / "server.pem", own / "server-cert.pem",
                     own / "server-key.pem", folder / "ca" / "truststore.p12")
        key, cert = _leaf(ca_key, ca, name, hosts, now, validity, client_auth=name == BROKER_CN)
        _write_server(pki, key, cert, ca_pem)
        for path in (pki.server, pki.server_cert, pki.server_key):
            os.chmod(path, key_mode)
        out[name] = pki
    return out
