"""HTTPS for a site without a certificate of its own: ``server.tls_cert: auto``.

VSION makes, once, in ``<data_dir>/tls/``, a small certificate authority of this installation
(``ca.pem``, its key ``ca-key.pem``) and a server certificate it signs (``cert.pem``, key
``key.pem``) for the machine's names and addresses. Tablets trust ``ca.pem`` once (README,
"Serving a site"); the server certificate can then be renewed without touching them. Keys are
mode 0600. The SHA-256 fingerprints are printed at every start so that a user can check, when
installing ``ca.pem`` on a tablet, that it is the one this server made.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from common.files import write_bytes
from system.storage import TLS_DIR

logger = logging.getLogger(__name__)

CA_DAYS = 3650
SERVER_DAYS = 825  # the longest validity Apple's devices accept for a server certificate


@dataclass(frozen=True)
class TlsFiles:
    """The PEM files the server uses (``cert`` holds the server certificate then its CA's) and,
    for ``auto``, the CA certificate to install on tablets."""

    cert: Path
    key: Path
    ca: Path | None = None


def fingerprint(pem_file: Path) -> str:
    """SHA-256 fingerprint of the first certificate in ``pem_file``, as browsers show it (AA:BB:...)."""
    cert = x509.load_pem_x509_certificate(Path(pem_file).read_bytes())
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def machine_names(host: str | None = None) -> tuple[list[str], list[str]]:
    """(DNS names, IP addresses) this machine answers to: its host names, localhost, its
    addresses (the one towards the local network included) and ``host`` when it is a concrete one."""
    names = {"localhost", socket.gethostname(), socket.getfqdn()}
    addresses = {"127.0.0.1", "::1"}
    for name in list(names):
        try:
            addresses.update(info[4][0] for info in socket.getaddrinfo(name, None))
        except OSError:
            pass
    try:  # the address used towards the network (no packet is sent by a UDP connect)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))
            addresses.add(probe.getsockname()[0])
    except OSError:
        pass
    if host:
        try:
            if not ipaddress.ip_address(host).is_unspecified:
                addresses.add(host)
        except ValueError:
            names.add(host)
    clean = {n.rstrip(".") for n in names if n and n.isascii()}
    return sorted(clean - {""}), sorted({a.split("%")[0] for a in addresses})


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "VSION"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _make_ca(folder: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    name = _name(f"VSION local authority {socket.gethostname()}"[:64])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    write_bytes(folder / "ca-key.pem", _key_pem(key), mode=0o600)
    write_bytes(folder / "ca.pem", cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
    return cert, key


def _load_ca(folder: Path):
    cert = x509.load_pem_x509_certificate((folder / "ca.pem").read_bytes())
    key = serialization.load_pem_private_key((folder / "ca-key.pem").read_bytes(), password=None)
    return cert, key


def _sans(names: list[str], addresses: list[str]) -> x509.SubjectAlternativeName:
    return x509.SubjectAlternativeName([*(x509.DNSName(n) for n in names),
                                        *(x509.IPAddress(ipaddress.ip_address(a)) for a in addresses)])


def _make_server_cert(folder: Path, ca_cert, ca_key, names: list[str], addresses: list[str]) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(_name(names[0] if names else "localhost"))
            .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=SERVER_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(_sans(names, addresses), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    write_bytes(folder / "key.pem", _key_pem(key), mode=0o600)
    chain = cert.public_bytes(serialization.Encoding.PEM) + ca_cert.public_bytes(serialization.Encoding.PEM)
    write_bytes(folder / "cert.pem", chain, mode=0o644)


def _covers(cert_file: Path, names: list[str], addresses: list[str]) -> bool:
    """Does the server certificate still cover every name and address, and for at least 30 days?"""
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    if cert.not_valid_after_utc - dt.datetime.now(dt.UTC) < dt.timedelta(days=30):
        return False
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    have_names = set(sans.get_values_for_type(x509.DNSName))
    have_addresses = {str(a) for a in sans.get_values_for_type(x509.IPAddress)}
    return set(names) <= have_names and {str(ipaddress.ip_address(a)) for a in addresses} <= have_addresses


def auto_certificate(data_dir: Path, host: str | None = None) -> TlsFiles:
    """The self-signed files of ``tls_cert: auto`` in ``data_dir/tls``: the CA made once; the
    server certificate made again only when it no longer covers this machine's names and
    addresses or nears its end (the CA, which tablets trust, stays)."""
    folder = Path(data_dir) / TLS_DIR
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if (folder / "ca.pem").is_file() and (folder / "ca-key.pem").is_file():
        ca_cert, ca_key = _load_ca(folder)
    else:
        ca_cert, ca_key = _make_ca(folder)
        logger.info("made the certificate authority of this VSION: %s", folder / "ca.pem")
    names, addresses = machine_names(host)
    cert, key = folder / "cert.pem", folder / "key.pem"
    if not (cert.is_file() and key.is_file() and _covers(cert, names, addresses)):
        _make_server_cert(folder, ca_cert, ca_key, names, addresses)
        logger.info("made the server certificate for %s", ", ".join(names + addresses))
    return TlsFiles(cert, key, folder / "ca.pem")


def site_certificate(cert: Path, key: Path) -> TlsFiles:
    """The site's own certificate and key, checked readable (a one-line error otherwise)."""
    for path in (cert, key):
        try:
            Path(path).read_bytes()
        except OSError as exc:
            raise ValueError(f"server.tls: cannot read {path}: {exc.strerror}") from None
    try:
        fingerprint(cert)
    except ValueError:
        raise ValueError(f"server.tls_cert: {cert} is not a PEM certificate") from None
    return TlsFiles(Path(cert), Path(key))
