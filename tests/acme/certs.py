"""What the tests check on an issued certificate: its names, and its
revocation as the mount reports it and as the CRL lists it."""
from __future__ import annotations

from cryptography import x509


def serial_colon(c: x509.Certificate) -> str:
    h = f"{c.serial_number:x}"
    h = ("0" if len(h) % 2 else "") + h
    return ":".join(h[i:i + 2] for i in range(0, len(h), 2))


def revoked(mount, c: x509.Certificate) -> bool:
    info = mount.api("GET", f"pki/cert/{serial_colon(c)}").json()["data"]
    return info.get("revocation_time", 0) > 0


def crl_serials(mount) -> set[int]:
    r = mount.api("GET", "pki/crl")
    return {e.serial_number for e in x509.load_der_x509_crl(r.content)}


def sans(c: x509.Certificate) -> list[str]:
    ext = c.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return sorted(ext.get_values_for_type(x509.DNSName))
