"""The comparator itself: a difference of each kind is caught, and only an
allow-list entry that matches exactly lets it through. (No servers needed.)"""
import datetime

import pytest
import vdiff
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _cert(ca=True, pathlen=None, days=30, ku_sign=True):
    k = ec.generate_private_key(ec.SECP256R1())
    n = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")])
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(n).issuer_name(n).public_key(k.public_key())
         .serial_number(x509.random_serial_number()).not_valid_before(now)
         .not_valid_after(now + datetime.timedelta(days=days))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=pathlen), critical=True)
         .add_extension(x509.KeyUsage(digital_signature=not ku_sign, content_commitment=False, key_encipherment=False,
                                      data_encipherment=False, key_agreement=False, key_cert_sign=ku_sign,
                                      crl_sign=ku_sign, encipher_only=False, decipher_only=False), critical=True))
    return b.sign(k, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode().strip()


def _res(status=200, body=None):
    import json
    raw = json.dumps(body).encode() if body is not None else b""
    return vdiff.Result(status, {"Content-Type": "application/json"}, raw, body)


def kinds(a, b):
    return sorted({(d.kind, d.field) for d in vdiff.compare_results(a, b)})


def test_status_keys_types_values_are_compared():
    assert kinds(_res(200, {"data": {"a": 1}}), _res(204)) == [("body", ""), ("status", "")]
    assert ("missing_in_b", "data.b") in kinds(_res(body={"data": {"a": 1, "b": 2}}), _res(body={"data": {"a": 1}}))
    assert ("type", "data.a") in kinds(_res(body={"data": {"a": 1}}), _res(body={"data": {"a": "1"}}))
    assert ("value", "data.a") in kinds(_res(body={"data": {"a": 1}}), _res(body={"data": {"a": 2}}))
    assert ("length", "data.keys") in kinds(_res(body={"data": {"keys": ["x"]}}), _res(body={"data": {"keys": ["y", "z"]}}))
    # LIST keys: names by value, random IDs by shape.
    assert ("value", "data.keys") in kinds(_res(body={"data": {"keys": ["web"]}}), _res(body={"data": {"keys": ["www"]}}))
    u1, u2 = "11111111-2222-3333-4444-555555555555", "66666666-2222-3333-4444-555555555555"
    assert kinds(_res(body={"data": {"keys": ["web", u1]}}), _res(body={"data": {"keys": [u2, "web"]}})) == []


def test_random_values_compared_by_shape_only():
    a = {"request_id": "11111111-2222-3333-4444-555555555555", "data": {"serial_number": "aa:bb", "role_id": "x"}}
    b = {"request_id": "66666666-2222-3333-4444-555555555555", "data": {"serial_number": "cc:dd", "role_id": "y"}}
    assert kinds(_res(body=a), _res(body=b)) == []
    b["data"]["serial_number"] = ""
    assert ("shape", "data.serial_number") in kinds(_res(body=a), _res(body=b))


def test_certificates_compared_by_profile():
    same = kinds(_res(body={"data": {"certificate": _cert()}}), _res(body={"data": {"certificate": _cert()}}))
    assert same == []
    diff = vdiff.compare_results(_res(body={"data": {"certificate": _cert(pathlen=1)}}),
                                 _res(body={"data": {"certificate": _cert(pathlen=0)}}))
    assert any("path_length" in d.field for d in diff)
    diff = vdiff.compare_results(_res(body={"data": {"certificate": _cert(days=30)}}),
                                 _res(body={"data": {"certificate": _cert(days=31)}}))
    assert any("validity_seconds" in d.field for d in diff)
    diff = vdiff.compare_results(_res(body={"data": {"certificate": _cert(ku_sign=True)}}),
                                 _res(body={"data": {"certificate": _cert(ku_sign=False)}}))
    assert any("key_cert_sign" in d.field for d in diff)


def test_allowlist_matches_narrowly_and_needs_reasons(tmp_path):
    entries = vdiff.load_allowlist()
    assert entries and all(e.reason.strip() for e in entries)
    d = vdiff.Diff("missing_in_b", "mount_type", "pki", None)
    assert vdiff.allowed(entries, "GET", "pki/roles/x", d).id == "mount_type"
    # Same field, other kind: not allowed.
    assert vdiff.allowed(entries, "GET", "pki/roles/x", vdiff.Diff("missing_in_a", "mount_type")) is None
    # A value difference in a field nobody listed: not allowed.
    assert vdiff.allowed(entries, "GET", "sys/mounts", vdiff.Diff("value", "data.pki/.type", "pki", "kv")) is None
    bad = tmp_path / "a.yaml"
    bad.write_text("differences:\n  - id: x\n    match: {field: y}\n")
    with pytest.raises(ValueError):
        vdiff.load_allowlist(str(bad))
