"""``hub.dev.pki``: the local stack's single certificate and a deployment's one certificate per server,
checked with cryptography and with a TLS handshake through OpenSSL (Python's ssl, memory BIOs)."""

from __future__ import annotations

import ssl
import stat

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hub.dev.pki import BROKER_CN, make_dev_pki, make_service_pki


def _cert(path):
    return x509.load_pem_x509_certificate(path.read_bytes())


def _usages(cert) -> set:
    return set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def _names(cert) -> set[str]:
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(n.value) for n in san}


def _handshake(pki, host: str) -> None:
    """A TLS handshake of a client verifying ``host`` against the CA with a server holding ``pki``'s files."""
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(pki.server_cert, pki.server_key)
    client_ctx = ssl.create_default_context(cafile=str(pki.ca))
    pipes = [ssl.MemoryBIO() for _ in range(4)]
    server = server_ctx.wrap_bio(pipes[0], pipes[1], server_side=True)
    client = client_ctx.wrap_bio(pipes[2], pipes[3], server_hostname=host)
    for _ in range(10):
        done = 0
        for end, outgoing, incoming in ((client, pipes[3], pipes[0]), (server, pipes[1], pipes[2])):
            try:
                end.do_handshake()
                done += 1
            except ssl.SSLWantReadError:
                pass
            incoming.write(outgoing.read())
        if done == 2:
            return
    raise AssertionError("no handshake")


def test_the_local_stacks_certificate_is_unchanged(tmp_path):
    pki = make_dev_pki(tmp_path / "pki")
    cert = _cert(pki.server_cert)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == BROKER_CN
    assert _names(cert) == {"localhost", "127.0.0.1"}
    assert _usages(cert) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert pki.server.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert stat.S_IMODE(pki.server_key.stat().st_mode) == 0o600
    assert stat.S_IMODE(pki.ca.stat().st_mode) == 0o644
    _handshake(pki, "127.0.0.1")


def test_one_certificate_per_server_and_only_the_brokers_may_be_clients(tmp_path):
    servers = {"broker": ["kafka-1", "kafka-2"], "registry": ["registry", "127.0.0.1"]}
    made = make_service_pki(tmp_path, servers, key_mode=0o644)
    ca = _cert(tmp_path / "ca" / "ca.pem")
    broker, registry = _cert(made["broker"].server_cert), _cert(made["registry"].server_cert)
    for cert in (broker, registry):
        cert.verify_directly_issued_by(ca)
    assert broker.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == BROKER_CN
    assert _names(broker) == {"kafka-1", "kafka-2"} and _names(registry) == {"registry", "127.0.0.1"}
    assert ExtendedKeyUsageOID.CLIENT_AUTH in _usages(broker)
    assert _usages(registry) == {ExtendedKeyUsageOID.SERVER_AUTH}
    assert made["broker"].server.parent == tmp_path / "broker"
    assert made["registry"].ca == tmp_path / "ca" / "ca.pem"
    assert stat.S_IMODE(made["registry"].server_key.stat().st_mode) == 0o644
    assert not list(tmp_path.rglob("*ca*key*"))  # the CA's key is never written
    _handshake(made["broker"], "kafka-2")
    _handshake(made["registry"], "registry")
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(made["registry"], "kafka-1")


def test_a_server_needs_a_host_name(tmp_path):
    with pytest.raises(ValueError, match="at least one host"):
        make_service_pki(tmp_path, {"broker": []})
