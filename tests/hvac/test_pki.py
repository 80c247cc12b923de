"""hvac's PKI API (client.secrets.pki) end to end against the server: a root,
config/urls, roles, issue, sign, sign-intermediate into a second mount,
fetches, listing, revocation and the CRL. Certificates are checked with the
`cryptography` package, not just for presence."""
import datetime

import pytest
from hvac import exceptions

crypto = pytest.importorskip("cryptography")
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: E402


def _cert(pem):
    return x509.load_pem_x509_certificate(pem.encode() if isinstance(pem, str) else pem)


def _csr(cn, dns=(), ca=False):
    key = ec.generate_private_key(ec.SECP256R1())
    b = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
    if dns:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in dns]), critical=False)
    if ca:
        b = b.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    return b.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode(), key


def _serial(cert):
    h = f"{cert.serial_number:x}"
    h = ("0" + h) if len(h) % 2 else h
    return ":".join(h[i:i + 2] for i in range(0, len(h), 2))


@pytest.fixture
def pki(client, unique):
    mount = f"pki-{unique}"
    client.sys.enable_secrets_engine("pki", path=mount, config={"max_lease_ttl": "87600h"})
    yield mount
    client.sys.disable_secrets_engine(mount)


def test_root_urls_roles_issue_sign_list_revoke_crl(client, pki):
    p = client.secrets.pki
    root = p.generate_root("internal", "hvac Root CA", extra_params={"ttl": "87600h", "key_type": "ec",
                                                                    "issuer_name": "hvac-root"}, mount_point=pki)
    root_cert = _cert(root["data"]["certificate"])
    assert root_cert.subject == root_cert.issuer
    assert root_cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert root["data"]["issuer_name"] == "hvac-root"
    assert isinstance(root["data"]["expiration"], int)

    urls = {"issuing_certificates": [f"http://vault:8200/v1/{pki}/ca"],
            "crl_distribution_points": [f"http://vault:8200/v1/{pki}/crl"]}
    p.set_urls(urls, mount_point=pki)
    got = p.read_urls(mount_point=pki)["data"]
    assert got["issuing_certificates"] == urls["issuing_certificates"]
    assert got["crl_distribution_points"] == urls["crl_distribution_points"]

    p.create_or_update_role("web", extra_params={"allowed_domains": ["example.com"], "allow_subdomains": True,
                                                 "max_ttl": "72h", "key_type": "ec"}, mount_point=pki)
    role = p.read_role("web", mount_point=pki)["data"]
    assert role["allowed_domains"] == ["example.com"] and role["max_ttl"] == 72 * 3600
    assert "web" in p.list_roles(mount_point=pki)["data"]["keys"]

    # issue: key + certificate with the role's profile and the AIA/CRL URLs.
    issued = p.generate_certificate("web", "www.example.com", extra_params={"ttl": "1h", "alt_names": "a.example.com"},
                                    mount_point=pki)["data"]
    leaf = _cert(issued["certificate"])
    assert issued["private_key_type"] == "ec"
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "www.example.com"
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert sorted(sans) == ["a.example.com", "www.example.com"]
    assert ExtendedKeyUsageOID.SERVER_AUTH in leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False \
        if any(isinstance(e.value, x509.BasicConstraints) for e in leaf.extensions) else True
    life = leaf.not_valid_after_utc - leaf.not_valid_before_utc
    assert datetime.timedelta(hours=1) <= life <= datetime.timedelta(hours=1, seconds=31)
    aia = leaf.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert [d.access_location.value for d in aia] == urls["issuing_certificates"]
    leaf.verify_directly_issued_by(root_cert)
    assert issued["serial_number"] == _serial(leaf)
    with pytest.raises(exceptions.InvalidRequest):
        p.generate_certificate("web", "www.other.org", mount_point=pki)

    # sign: the CSR's key, the role's rules.
    csr_pem, key = _csr("svc.example.com", dns=["svc.example.com"])
    signed = p.sign_certificate("web", csr_pem, "svc.example.com", extra_params={"ttl": "2h"}, mount_point=pki)["data"]
    sleaf = _cert(signed["certificate"])
    assert sleaf.public_key().public_numbers() == key.public_key().public_numbers()
    assert _cert(signed["issuing_ca"]) == root_cert
    assert [_cert(c) for c in signed["ca_chain"]] == [root_cert]

    # ca/pem, ca_chain, cert/<serial>, certs.
    assert _cert(p.read_ca_certificate(mount_point=pki)) == root_cert
    assert _cert(p.read_ca_certificate_chain(mount_point=pki)) == root_cert
    fetched = p.read_certificate(signed["serial_number"], mount_point=pki)["data"]
    assert _cert(fetched["certificate"]) == sleaf and fetched["revocation_time"] == 0
    serials = p.list_certificates(mount_point=pki)["data"]["keys"]
    for s in (root["data"]["serial_number"], issued["serial_number"], signed["serial_number"]):
        assert s.replace(":", "-") in serials or s in serials

    # revoke → the CRL lists it.
    rev = p.revoke_certificate(signed["serial_number"], mount_point=pki)["data"]
    assert isinstance(rev["revocation_time"], int) and rev["revocation_time"] > 0
    assert p.read_certificate(signed["serial_number"], mount_point=pki)["data"]["revocation_time"] > 0
    crl = x509.load_pem_x509_crl(p.read_crl(mount_point=pki).encode())
    assert crl.issuer == root_cert.subject and crl.is_signature_valid(root_cert.public_key())
    assert crl.get_revoked_certificate_by_serial_number(sleaf.serial_number) is not None
    assert crl.get_revoked_certificate_by_serial_number(leaf.serial_number) is None
    assert p.rotate_crl(mount_point=pki)["data"]["success"] is True
    assert "expiry" in p.read_crl_configuration(mount_point=pki)["data"]

    p.delete_role("web", mount_point=pki)
    with pytest.raises(exceptions.InvalidPath):
        p.read_role("web", mount_point=pki)


def test_intermediate_signed_by_root_then_issues(client, pki, unique):
    p = client.secrets.pki
    root = _cert(p.generate_root("internal", "hvac Root", extra_params={"ttl": "87600h"}, mount_point=pki)
                 ["data"]["certificate"])
    inter_mount = f"int-{unique}"
    client.sys.enable_secrets_engine("pki", path=inter_mount, config={"max_lease_ttl": "43800h"})
    try:
        csr = p.generate_intermediate("internal", "hvac Intermediate", extra_params={"key_type": "ec"},
                                      mount_point=inter_mount)["data"]["csr"]
        signed = p.sign_intermediate(csr, "hvac Intermediate", extra_params={"ttl": "43800h"}, mount_point=pki)["data"]
        inter = _cert(signed["certificate"])
        bc = inter.extensions.get_extension_for_class(x509.BasicConstraints)
        assert bc.critical and bc.value.ca is True
        ku = inter.extensions.get_extension_for_class(x509.KeyUsage).value
        assert ku.key_cert_sign and ku.crl_sign
        with pytest.raises(x509.ExtensionNotFound):
            inter.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
        inter.verify_directly_issued_by(root)
        assert [_cert(c) for c in signed["ca_chain"]] == [inter, root]

        p.set_signed_intermediate(signed["certificate"] + "\n" + p.read_ca_certificate(mount_point=pki),
                                  mount_point=inter_mount)
        assert _cert(p.read_ca_certificate(mount_point=inter_mount)) == inter
        issuers = p.list_issuers(mount_point=inter_mount)["data"]["keys"]
        assert len(issuers) >= 1
        assert _cert(p.read_issuer(issuers[0], mount_point=inter_mount)["data"]["certificate"]) in (inter, root)

        p.create_or_update_role("leaf", extra_params={"allow_any_name": True, "max_ttl": "1h"}, mount_point=inter_mount)
        leaf = p.generate_certificate("leaf", "leaf.example.com", mount_point=inter_mount)["data"]
        lc = _cert(leaf["certificate"])
        lc.verify_directly_issued_by(inter)
        assert [_cert(c) for c in leaf["ca_chain"]] == [inter, root]
        # max_ttl caps the default (mount default 768h) to 1h.
        assert lc.not_valid_after_utc - lc.not_valid_before_utc <= datetime.timedelta(hours=1, seconds=31)

        # sign-verbatim keeps the CSR's subject.
        vcsr, _ = _csr("verbatim.example.com", dns=["v.example.com"])
        v = _cert(p.sign_verbatim(vcsr, extra_params={"ttl": "1h"}, mount_point=inter_mount)["data"]["certificate"])
        assert v.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "verbatim.example.com"
        # tidy is accepted.
        assert p.tidy(extra_params={"tidy_cert_store": True, "safety_buffer": "1s"}, mount_point=inter_mount).status_code == 202
    finally:
        client.sys.disable_secrets_engine(inter_mount)
    p.delete_root(mount_point=pki)
    with pytest.raises(exceptions.InvalidPath):
        p.list_issuers(mount_point=pki)


def test_crl_configuration_issuer_management_import_and_self_issued_signing(client, pki, unique):
    p = client.secrets.pki
    root_a = _cert(p.generate_root("internal", "hvac Root A", extra_params={"ttl": "8760h", "issuer_name": "a"},
                                   mount_point=pki)["data"]["certificate"])

    p.set_crl_configuration(expiry="48h", extra_params={"auto_rebuild": True, "enable_delta": True},
                            mount_point=pki)
    cfg = p.read_crl_configuration(mount_point=pki)["data"]
    assert (cfg["expiry"], cfg["auto_rebuild"], cfg["enable_delta"]) == ("48h", True, True)
    assert cfg["delta_rebuild_interval"] == "15m"

    updated = p.update_issuer("a", extra_params={"issuer_name": "a", "leaf_not_after_behavior": "truncate"},
                              mount_point=pki)
    assert updated["data"]["leaf_not_after_behavior"] == "truncate"

    # A second root, made elsewhere, comes in with its key as a second issuer.
    other = f"pki-b-{unique}"
    client.sys.enable_secrets_engine("pki", path=other)
    try:
        b = p.generate_root("exported", "hvac Root B", extra_params={"ttl": "8760h"}, mount_point=other)["data"]
    finally:
        client.sys.disable_secrets_engine(other)
    imported = p.submit_ca_information(b["private_key"] + "\n" + b["certificate"], mount_point=pki)
    [b_id] = imported["data"]["imported_issuers"]
    assert imported["data"]["mapping"][b_id] == imported["data"]["imported_keys"][0]

    # Root A cross-signs root B's self-issued certificate.
    crossed = _cert(p.sign_self_issued(b["certificate"], mount_point=pki)["data"]["certificate"])
    root_b = _cert(b["certificate"])
    assert crossed.subject == root_b.subject and crossed.issuer == root_a.subject
    crossed.verify_directly_issued_by(root_a)

    revoked = p.revoke_issuer(b_id, mount_point=pki)["data"]
    assert revoked["revoked"] is True and isinstance(revoked["revocation_time"], int)
    p.delete_issuer(b_id, mount_point=pki)
    assert [k for k in p.list_issuers(mount_point=pki)["data"]["keys"]] == [p.read_issuer("a", mount_point=pki)["data"]["issuer_id"]]
