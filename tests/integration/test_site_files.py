"""What serving a site keeps on disk: the certificate VSION makes for ``tls_cert: auto``, and the
data folder private to VSION's account (an existing installation fixed at its next start)."""
from __future__ import annotations

import ipaddress
import os
import stat

from cryptography import x509

from system.storage import make_private
from web.tls import auto_certificate, fingerprint, machine_names, site_certificate


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_auto_certificate_is_made_once_and_covers_this_machine(tmp_path):
    files = auto_certificate(tmp_path, "127.0.0.1")
    assert mode(files.key) == 0o600 and mode(tmp_path / "tls" / "ca-key.pem") == 0o600
    assert mode(tmp_path / "tls") == 0o700
    chain = x509.load_pem_x509_certificates(files.cert.read_bytes())
    server, authority = chain
    assert authority.subject == x509.load_pem_x509_certificate(files.ca.read_bytes()).subject
    server.verify_directly_issued_by(authority)
    authority.verify_directly_issued_by(authority)
    assert authority.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not server.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    names, addresses = machine_names("127.0.0.1")
    sans = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(names) <= set(sans.get_values_for_type(x509.DNSName)) and "localhost" in names
    assert {ipaddress.ip_address(a) for a in addresses} <= set(sans.get_values_for_type(x509.IPAddress))
    assert (server.not_valid_after_utc - server.not_valid_before_utc).days <= 826  # what Apple's devices accept
    assert len(fingerprint(files.cert).split(":")) == 32

    first = files.cert.read_bytes()
    again = auto_certificate(tmp_path, "127.0.0.1")
    assert again.cert.read_bytes() == first  # made once
    # A new name for the machine: a new server certificate, signed by the same authority the tablets trust.
    ca_before = files.ca.read_bytes()
    renewed = auto_certificate(tmp_path, "vsion-atelier.example")
    assert renewed.ca.read_bytes() == ca_before and renewed.cert.read_bytes() != first
    sans = x509.load_pem_x509_certificates(renewed.cert.read_bytes())[0].extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value
    assert "vsion-atelier.example" in sans.get_values_for_type(x509.DNSName)


def test_a_site_certificate_must_be_readable(tmp_path):
    files = auto_certificate(tmp_path / "made")
    assert site_certificate(files.cert, files.key).cert == files.cert
    for cert, key, needle in [(tmp_path / "none.pem", files.key, "cannot read"),
                              (files.key, files.key, "not a PEM certificate")]:
        try:
            site_certificate(cert, key)
        except ValueError as exc:
            assert needle in str(exc)
        else:
            raise AssertionError(needle)


def test_an_existing_installation_is_made_private(tmp_path):
    data = tmp_path / "data"
    take = data / "takes" / "20260101-000000-abcd"
    take.mkdir(parents=True)
    (take / "cam1.mp4").write_bytes(b"video")
    for name in ("vsion.db", "secret_key", "camera.key"):
        (data / name).write_bytes(b"x")
        os.chmod(data / name, 0o644)
    for folder in (data, data / "takes", take):
        os.chmod(folder, 0o755)
    assert make_private(data) == 6
    assert [mode(p) for p in (data, data / "takes", take)] == [0o700] * 3
    assert [mode(data / n) for n in ("vsion.db", "secret_key", "camera.key")] == [0o600] * 3
    assert make_private(data) == 0  # idempotent


def test_prepare_app_fixes_the_data_folder(tmp_path, video_file):
    from settings import parse_settings
    from web.factory import create_app, prepare_app

    data = tmp_path / "data"
    data.mkdir()
    os.chmod(data, 0o755)
    app = create_app(parse_settings({"cameras": [{"name": "cam1", "url": str(video_file)}], "data_dir": str(data)}),
                     {"TESTING": True})
    prepare_app(app)
    assert mode(data) == 0o700 and mode(data / "vsion.db") == 0o600 and mode(data / "secret_key") == 0o600
