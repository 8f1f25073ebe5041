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
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
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


def make_dev_pki(folder: Path) -> DevPki:
    """A fresh CA and server certificate in ``folder`` (created 0700); returns the file paths."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Banyuwangi hub development CA"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "development only, never production")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now).not_valid_after(now + VALIDITY)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, encipher_only=False,
                                       decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name(BROKER_CN)).issuer_name(ca_name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                  ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_pem = ca.public_bytes(serialization.Encoding.PEM)
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    pki = DevPki(folder / "ca.pem", folder / "server.pem", folder / "server-cert.pem",
                 folder / "server-key.pem", folder / "truststore.p12")
    _write(pki.ca, ca_pem)
    _write(pki.server, _pem_key(key) + cert_pem + ca_pem)
    _write(pki.server_cert, cert_pem + ca_pem)
    _write(pki.server_key, _pem_key(key))
    _write(pki.truststore, pkcs12.serialize_java_truststore(
        [pkcs12.PKCS12Certificate(ca, b"hub-dev-ca")],
        serialization.BestAvailableEncryption(TRUSTSTORE_PASSWORD.encode())))
    os.chmod(pki.ca, 0o644)
    return pki
