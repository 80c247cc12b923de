"""PKI secrets engine (https://developer.hashicorp.com/vault/api-docs/secret/pki):
every endpoint of that API that vaultlet implements, with the profile of everything it signs."""
import json
import uuid

from cli import cli_write


def _mount(pair, max_ttl="87600h"):
    m = "pki" + uuid.uuid4().hex[:8]
    pair.call("POST", f"sys/mounts/{m}", {"type": "pki", "config": {"max_lease_ttl": max_ttl}}, expect=204)
    pair.setv("m", m)
    return m


def test_root_generation_variants(pair):
    m = _mount(pair)
    # Nothing yet: raw fetches are 204, JSON reads 4xx.
    pair.call("GET", f"{m}/ca/pem", token="", expect=204)
    pair.call("GET", f"{m}/ca", token="", expect=204)
    pair.call("GET", f"{m}/cert/ca", token="")
    pair.call("LIST", f"{m}/issuers", token="", expect=404)
    pair.call("POST", f"{m}/root/generate/internal", {"common_name": "Root RSA", "ttl": "8760h", "key_type": "rsa",
                                                      "key_bits": 2048, "max_path_length": 2, "issuer_name": "r1",
                                                      "ou": "Ops", "organization": "Example", "country": "DE",
                                                      "permitted_dns_domains": "example.com,svc"}, expect=200)
    pair.call("POST", f"{m}/root/generate/exported", {"common_name": "Root EC", "key_type": "ec", "key_bits": 384,
                                                      "ttl": "1000h", "issuer_name": "r2",
                                                      "alt_names": "root.example.com", "ip_sans": "10.0.0.1"},
              expect=200)
    pair.call("POST", f"{m}/root/generate/exported", {"common_name": "Root Ed", "key_type": "ed25519", "ttl": "100h",
                                                      "issuer_name": "r3", "private_key_format": "pkcs8",
                                                      "max_path_length": 0}, expect=200)
    pair.call("POST", f"{m}/issuers/generate/root/internal", {"common_name": "Root Der", "format": "der",
                                                              "issuer_name": "r4", "key_type": "ec"}, expect=200)
    pair.call("POST", f"{m}/root/generate/internal", {"common_name": "x", "issuer_name": "r1"}, expect=400)
    pair.call("POST", f"{m}/root/generate/internal", {"common_name": "x", "key_type": "rsa", "key_bits": 1024},
              expect=400)
    pair.call("POST", f"{m}/root/generate/internal", {"common_name": "x", "format": "pkcs12"}, expect=400)
    pair.call("POST", f"{m}/root/generate/internal", {"common_name": "x", "ttl": "1h", "not_after": "2030-01-01T00:00:00Z"},
              expect=400)
    pair.call("POST", f"{m}/root/generate/nosuchtype", {"common_name": "x"}, expect=(400, 404, 405))
    pair.call("LIST", f"{m}/issuers", token="", expect=200)
    pair.call("GET", f"{m}/issuer/r1", expect=200)
    pair.call("GET", f"{m}/issuer/r2", expect=200)   # EC: ECDSAWithSHA384
    pair.call("GET", f"{m}/issuer/r3", expect=200)   # Ed25519
    pair.call("GET", f"{m}/issuer/r2/json", token="", expect=200)
    pair.call("GET", f"{m}/issuer/r2/pem", token="", expect=200)
    pair.call("GET", f"{m}/issuer/r3/der", token="", expect=200)
    pair.call("GET", f"{m}/issuer/default", expect=200)
    pair.call("GET", f"{m}/issuer/nosuch", expect=(400, 404))
    pair.call("GET", f"{m}/config/issuers", expect=200)
    pair.call("POST", f"{m}/config/issuers", {"default": "r2"}, expect=200)
    pair.call("GET", f"{m}/config/issuers", expect=200)
    pair.call("POST", f"{m}/issuer/r2", {"issuer_name": "r2", "leaf_not_after_behavior": "truncate"}, expect=200)
    pair.call("PATCH", f"{m}/issuer/r2", {"leaf_not_after_behavior": "permit"},
              headers={"Content-Type": "application/merge-patch+json"}, expect=200)
    pair.call("POST", f"{m}/issuer/r2", {"leaf_not_after_behavior": "sometimes"}, expect=400)
    pair.call("GET", f"{m}/ca/pem", token="", expect=200)
    pair.call("GET", f"{m}/ca", token="", expect=200)
    pair.call("GET", f"{m}/ca_chain", token="", expect=200)
    pair.call("GET", f"{m}/cert/ca", token="", expect=200)
    pair.call("GET", f"{m}/cert/ca_chain", token="", expect=200)
    pair.call("LIST", f"{m}/keys", expect=200)
    pair.call("GET", f"{m}/config/keys", expect=200)
    pair.call("LIST", f"{m}/certs", expect=200)
    pair.call("DELETE", f"{m}/issuer/r4", expect=(200, 204))
    pair.call("DELETE", f"{m}/root", expect=204)
    pair.call("LIST", f"{m}/issuers", token="", expect=404)
    pair.call("DELETE", f"sys/mounts/{m}", expect=204)
    pair.check()


def test_roles_issue_sign_revoke_crl(pair, csr):
    m = _mount(pair)
    pair.call("POST", f"{m}/root/generate/internal", {"common_name": "Test Root", "ttl": "8760h", "key_type": "ec"},
              expect=200)
    pair.call("POST", f"{m}/config/urls", {"issuing_certificates": f"http://v:8200/v1/{m}/ca",
                                          "crl_distribution_points": [f"http://v:8200/v1/{m}/crl"],
                                          "ocsp_servers": "http://v:8200/ocsp"}, expect=200)
    pair.call("GET", f"{m}/config/urls", expect=200)
    pair.call("POST", f"{m}/config/urls", {"issuing_certificates": "not a url"}, expect=400)
    # Roles: defaults, string-typed bodies, every list form.
    pair.call("POST", f"{m}/roles/defaults", {}, expect=200)
    pair.call("GET", f"{m}/roles/defaults", expect=200)
    cli_write(pair, f"{m}/roles/web", expect=200, allowed_domains="example.com,svc", allow_subdomains="true",
              allow_bare_domains="true", max_ttl="720h", ttl="24h", key_type="ec", key_bits="256",
              allowed_uri_sans="spiffe://cluster.local/*", ou="Web", organization="Example",
              ext_key_usage="ServerAuth", client_flag="false", not_before_duration="10s")
    pair.call("GET", f"{m}/roles/web", expect=200)
    pair.call("PATCH", f"{m}/roles/web", {"ttl": "12h"}, headers={"Content-Type": "application/merge-patch+json"},
              expect=200)
    pair.call("POST", f"{m}/roles/bad", {"ttl": "2h", "max_ttl": "1h"}, expect=400)
    pair.call("POST", f"{m}/roles/any", {"allow_any_name": True, "key_type": "any", "enforce_hostnames": False,
                                        "use_csr_common_name": False, "use_csr_sans": False,
                                        "basic_constraints_valid_for_non_ca": True, "key_usage": ["DigitalSignature"],
                                        "allowed_other_sans": "*", "policy_identifiers": "1.2.3.4"}, expect=200)
    # Policy identifiers in Vault's JSON form: a CPS URI and a user notice.
    pair.call("POST", f"{m}/roles/policies", {"allow_any_name": True, "key_type": "ec", "ttl": "1h",
                                             "policy_identifiers": json.dumps([
                                                 {"oid": "1.3.6.1.4.1.7.8", "notice": "I am a user Notice"},
                                                 {"oid": "1.3.6.1.4.1.44947.1.2.4", "cps": "https://example.com"}])},
              expect=200)
    pair.call("GET", f"{m}/roles/policies", expect=200)
    pair.call("POST", f"{m}/issue/policies", {"common_name": "p.example.com"}, expect=200)
    pair.call("LIST", f"{m}/roles", expect=200)
    # Issue.
    pair.call("POST", f"{m}/issue/web", {"common_name": "www.example.com", "alt_names": "a.example.com,b.svc",
                                        "ttl": "1h", "uri_sans": "spiffe://cluster.local/ns/a/sa/b"}, expect=200)
    pair.call("POST", f"{m}/issue/web", {"common_name": "www.example.com", "format": "pem_bundle",
                                        "private_key_format": "pkcs8"}, expect=200)
    pair.call("POST", f"{m}/issue/web", {"common_name": "www.example.com", "format": "der"}, expect=200)
    pair.call("POST", f"{m}/issue/web", {"common_name": "www.example.com", "ttl": "8000h"}, expect=200)  # capped
    pair.call("POST", f"{m}/issue/web", {"common_name": "www.other.org"}, expect=400)
    pair.call("POST", f"{m}/issue/web", {"common_name": "x.example.com", "uri_sans": "spiffe://other/x"}, expect=400)
    pair.call("POST", f"{m}/issue/web", {"common_name": "x.example.com", "ttl": "87000h"}, expect=200)
    pair.call("POST", f"{m}/issue/nosuchrole", {"common_name": "x.example.com"}, expect=400)
    pair.call("POST", f"{m}/issue/any", {"common_name": "x"}, expect=400)   # key_type any cannot issue
    pair.call("POST", f"{m}/issue/defaults", {"common_name": "localhost"}, expect=200)
    pair.call("POST", f"{m}/issue/defaults", {"common_name": "example.com"}, expect=400)
    pair.call("POST", f"{m}/issue/web", {"common_name": "x.example.com", "not_after": "2099-01-01T00:00:00Z"},
              expect=400)   # beyond the CA: leaf_not_after_behavior=err
    # Sign.
    c1 = csr("leaf.example.com", dns=["leaf.example.com", "alt.svc"], ips=["10.1.2.3"],
             uris=["spiffe://cluster.local/ns/a/sa/b"])
    ra, rb = pair.call("POST", f"{m}/sign/web", {"csr": c1, "common_name": "ignored.example.com", "ttl": "2h",
                                                "exclude_cn_from_sans": True}, expect=200)
    pair.set("serial", lambda r: r.get("data", "serial_number"), ra, rb)
    pair.call("POST", f"{m}/sign/any", {"csr": csr("anything", key="rsa", emails=["a@b.c"]), "common_name": "given",
                                       "alt_names": "given.example", "ttl": "30m"}, expect=200)
    pair.call("POST", f"{m}/sign/web", {"csr": "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----"},
              expect=400)
    pair.call("POST", f"{m}/sign/web", {"csr": csr("leaf.example.com", key="rsa")}, expect=400)   # role wants ec
    pair.call("POST", f"{m}/sign-verbatim", {"csr": csr("verbatim.example.com", dns=["v.example.com"]), "ttl": "1h"},
              expect=200)
    pair.call("POST", f"{m}/sign-verbatim/web", {"csr": csr("verbatim.example.com"), "ttl": "1h"}, expect=200)
    pair.call("POST", f"{m}/issuer/default/sign/web", {"csr": c1}, expect=200)
    pair.call("POST", f"{m}/issuer/default/issue/web", {"common_name": "i.example.com"}, expect=200)
    # Fetch, list, revoke, CRL.
    pair.call("GET", f"{m}/cert/<<serial>>", token="", expect=200)
    pair.call("GET", f"{m}/cert/<<serial>>/raw", token="", expect=200)
    pair.call("GET", f"{m}/cert/<<serial>>/raw/pem", token="", expect=200)
    pair.call("GET", f"{m}/cert/00:11", token="", expect=404)
    pair.call("LIST", f"{m}/certs", expect=200)
    pair.call("POST", f"{m}/sign-verbatim", {"csr": csr("ca.example.com", ca=True)}, expect=400)
    pair.call("POST", f"{m}/revoke", {"serial_number": "<<serial>>"}, expect=200)
    pair.call("POST", f"{m}/revoke", {"serial_number": "<<serial>>"}, expect=200)    # again
    pair.call("POST", f"{m}/revoke", {"serial_number": "11:22:33"}, expect=400)
    pair.call("GET", f"{m}/cert/<<serial>>", token="", expect=200)
    pair.call("LIST", f"{m}/certs/revoked", expect=200)
    pair.call("GET", f"{m}/crl", token="", expect=200)
    pair.call("GET", f"{m}/crl/pem", token="", expect=200)
    pair.call("GET", f"{m}/cert/crl", token="", expect=200)
    pair.call("GET", f"{m}/cert/delta-crl", token="", expect=200)
    pair.call("GET", f"{m}/issuer/default/crl", token="", expect=200)
    pair.call("GET", f"{m}/issuer/default/crl/pem", token="", expect=200)
    pair.call("GET", f"{m}/crl/rotate", expect=200)
    pair.call("GET", f"{m}/config/crl", expect=200)
    pair.call("POST", f"{m}/config/crl", {"expiry": "48h", "disable": False}, expect=200)
    pair.call("GET", f"{m}/config/crl", expect=200)
    pair.call("GET", f"{m}/crl/pem", token="", expect=200)
    pair.call("POST", f"{m}/tidy", {"tidy_cert_store": True, "tidy_revoked_certs": True, "safety_buffer": "1s"},
              expect=202)
    pair.poll(f"{m}/tidy-status", lambda r: r.get("data", "state") not in ("Running", "Cancelling"))
    pair.call("GET", f"{m}/tidy-status", expect=200)
    pair.call("POST", f"{m}/tidy", {}, expect=(202, 400))
    pair.call("DELETE", f"{m}/roles/web", expect=204)
    pair.call("GET", f"{m}/roles/web", expect=404)
    pair.call("DELETE", f"sys/mounts/{m}", expect=204)
    pair.check()


def test_intermediate_chain(pair, csr):
    r = _mount(pair)
    i = "int" + r
    pair.call("POST", f"sys/mounts/{i}", {"type": "pki", "config": {"max_lease_ttl": "43800h"}}, expect=204)
    ra, rb = pair.call("POST", f"{r}/root/generate/internal", {"common_name": "Root", "ttl": "87600h",
                                                              "max_path_length": 1}, expect=200)
    pair.set("root", lambda x: x.get("data", "certificate"), ra, rb)
    pair.set("rootserial", lambda x: x.get("data", "serial_number"), ra, rb)
    ra, rb = pair.call("POST", f"{i}/intermediate/generate/internal", {"common_name": "Int", "key_type": "ec",
                                                                       "alt_names": "int.example.com"}, expect=200)
    pair.set("icsr", lambda x: x.get("data", "csr"), ra, rb)
    pair.call("POST", f"{i}/intermediate/generate/exported", {"common_name": "Int2", "key_type": "rsa",
                                                              "add_basic_constraints": True}, expect=200)
    ra, rb = pair.call("POST", f"{r}/root/sign-intermediate", {"csr": "<<icsr>>", "ttl": "43800h", "format": "pem_bundle"},
                       expect=200)
    ra, rb = pair.call("POST", f"{r}/root/sign-intermediate", {"csr": "<<icsr>>", "ttl": "43800h", "common_name": "",
                                                              "use_csr_values": True}, expect=200)
    pair.set("ipem", lambda x: x.get("data", "certificate"), ra, rb)
    pair.set("iserial", lambda x: x.get("data", "serial_number"), ra, rb)
    pair.call("POST", f"{r}/root/sign-intermediate", {"csr": "<<icsr>>", "ttl": "100000h"}, expect=200)  # past the root
    pair.call("POST", f"{r}/issuer/default/sign-intermediate", {"csr": "<<icsr>>", "max_path_length": 0,
                                                                "common_name": "Int0"}, expect=200)
    pair.call("POST", f"{r}/root/sign-intermediate", {"csr": "not a csr"}, expect=400)
    # A signer that expires long before the requested TTL.
    s = "short" + r
    pair.call("POST", f"sys/mounts/{s}", {"type": "pki", "config": {"max_lease_ttl": "87600h"}}, expect=204)
    pair.call("POST", f"{s}/root/generate/internal", {"common_name": "Short Root", "ttl": "1000h"}, expect=200)
    pair.call("POST", f"{s}/root/sign-intermediate", {"csr": "<<icsr>>", "ttl": "5000h"}, expect=200)
    pair.call("DELETE", f"sys/mounts/{s}", expect=204)
    pair.call("POST", f"{i}/intermediate/set-signed", {"certificate": "<<ipem>>\n<<root>>"}, expect=200)
    pair.call("POST", f"{i}/intermediate/set-signed", {"certificate": "<<ipem>>"}, expect=200)
    pair.call("POST", f"{i}/intermediate/set-signed", {"certificate": "garbage"}, expect=400)
    # The generated root and what it signed are stored certificates of the
    # root mount; what set-signed imports is not one of the intermediate's.
    pair.call("LIST", f"{r}/certs", expect=200)
    pair.call("GET", f"{r}/cert/<<rootserial>>", token="", expect=200)
    pair.call("LIST", f"{i}/certs", expect=404)
    pair.call("GET", f"{i}/cert/<<iserial>>", token="", expect=404)
    pair.call("GET", f"{i}/ca_chain", token="", expect=200)
    pair.call("GET", f"{i}/cert/ca_chain", token="", expect=200)
    pair.call("LIST", f"{i}/issuers", token="", expect=200)
    pair.call("GET", f"{i}/issuer/default", expect=200)
    pair.call("POST", f"{i}/roles/leaf", {"allow_any_name": True, "max_ttl": "1h", "key_type": "any"}, expect=200)
    pair.call("POST", f"{i}/roles/leafrsa", {"allow_any_name": True, "max_ttl": "1h"}, expect=200)
    pair.call("POST", f"{i}/issue/leafrsa", {"common_name": "leaf.example.com", "ttl": "2h"}, expect=200)
    pair.call("POST", f"{i}/issue/leafrsa", {"common_name": "leaf.example.com", "remove_roots_from_chain": True},
              expect=200)
    pair.call("POST", f"{i}/sign/leaf", {"csr": csr("s.example.com", dns=["s.example.com"])}, expect=200)
    # Import of a root bundle via config/ca.
    j = "imp" + r
    pair.call("POST", f"sys/mounts/{j}", {"type": "pki"}, expect=204)
    pair.call("POST", f"{j}/config/ca", {"pem_bundle": "<<root>>"}, expect=200)
    pair.call("POST", f"{j}/issuers/import/cert", {"pem_bundle": "<<ipem>>"}, expect=200)
    pair.call("LIST", f"{j}/issuers", token="", expect=200)
    # Imported issuers are not stored certificates either.
    pair.call("LIST", f"{j}/certs", expect=404)
    pair.call("GET", f"{j}/cert/<<rootserial>>", token="", expect=404)
    for x in (j, i, r):
        pair.call("DELETE", f"sys/mounts/{x}", expect=204)
    pair.check()


def test_delta_crls_auto_rebuild_and_cluster_config(pair):
    m = _mount(pair)
    pair.call("POST", f"{m}/root/generate/internal", {"common_name": "Delta Root", "ttl": "8760h"}, expect=200)
    pair.call("POST", f"{m}/roles/any", {"allow_any_name": True}, expect=200)
    pair.call("GET", f"{m}/crl/rotate-delta", expect=200)            # no-op warning
    pair.call("POST", f"{m}/config/crl", {"enable_delta": True}, expect=400)
    pair.call("POST", f"{m}/config/crl", {"auto_rebuild": True, "expiry": "1h"}, expect=400)
    pair.call("POST", f"{m}/config/crl", {"auto_rebuild": True, "enable_delta": True}, expect=200)
    pair.call("GET", f"{m}/config/crl", expect=200)
    ra, rb = pair.call("POST", f"{m}/issue/any", {"common_name": "d.example.com", "ttl": "1h"}, expect=200)
    pair.set("serial", lambda x: x.get("data", "serial_number"), ra, rb)
    pair.call("POST", f"{m}/revoke", {"serial_number": "<<serial>>"}, expect=200)
    pair.call("GET", f"{m}/crl/rotate-delta", expect=200)
    pair.call("GET", f"{m}/crl/delta", token="", expect=200)
    pair.call("GET", f"{m}/crl/delta/pem", token="", expect=200)
    pair.call("GET", f"{m}/cert/delta-crl", token="", expect=200)
    pair.call("GET", f"{m}/issuer/default/crl/delta", token="", expect=200)
    pair.call("GET", f"{m}/issuer/default/crl/delta/pem", token="", expect=200)
    pair.call("GET", f"{m}/issuer/default/crl/delta/der", token="", expect=200)
    pair.call("GET", f"{m}/crl/rotate", expect=200)
    ra, rb = pair.call("GET", f"{m}/crl/pem", token="", expect=200)
    pair.setv("crl", ra.body.decode(), rb.body.decode())
    pair.call("POST", f"{m}/issuer/default/resign-crls", {"crls": ["<<crl>>"], "crl_number": 9,
                                                          "next_update": "1h"}, expect=200)
    pair.call("POST", f"{m}/issuer/default/resign-crls", {"crls": ["<<crl>>"], "crl_number": -1}, expect=400)
    pair.call("POST", f"{m}/issuer/default/sign-revocation-list", {
        "crl_number": 3, "delta_crl_base_number": 2, "format": "der",
        "revoked_certs": [{"serial_number": "11:22", "revocation_time": 1700000000}],
        "extensions": [{"id": "1.2.3.4", "value": "BQA="}]}, expect=200)
    pair.call("POST", f"{m}/issuer/default/sign-revocation-list", {"extensions": [{"id": "2.5.29.20", "value": ""}]},
              expect=400)
    # config/cluster and AIA templating.
    pair.call("GET", f"{m}/config/cluster", expect=200)
    pair.call("POST", f"{m}/config/cluster", {"path": "https://vault.example/v1/" + m,
                                               "aia_path": "http://vault.example/v1/" + m}, expect=200)
    pair.call("POST", f"{m}/config/urls", {"enable_templating": True,
                                            "issuing_certificates": "{{cluster_aia_path}}/issuer/default/der",
                                            "crl_distribution_points": "{{cluster_path}}/crl/der"},
              expect=200)
    pair.call("POST", f"{m}/issue/any", {"common_name": "t.example.com", "ttl": "1h"}, expect=200)
    pair.call("POST", f"{m}/intermediate/cross-sign", {"common_name": "Cross"}, expect=200)
    # RSASSA-PSS roots and the revocation signature algorithm they record.
    pair.call("POST", f"{m}/root/generate/internal", {"common_name": "PSS Root", "issuer_name": "pss",
                                                      "use_pss": True, "signature_bits": 384}, expect=200)
    pair.call("GET", f"{m}/issuer/pss", expect=200)
    pair.call("PATCH", f"{m}/issuer/pss", {"revocation_signature_algorithm": "sha512withrsapss"},
              headers={"Content-Type": "application/merge-patch+json"}, expect=200)
    pair.call("PATCH", f"{m}/issuer/pss", {"revocation_signature_algorithm": "ecdsawithsha256"},
              headers={"Content-Type": "application/merge-patch+json"}, expect=(400, 500))
    # Auto-tidy configuration.
    pair.call("GET", f"{m}/config/auto-tidy", expect=200)
    pair.call("POST", f"{m}/config/auto-tidy", {"enabled": True}, expect=400)
    pair.call("POST", f"{m}/config/auto-tidy", {"enabled": True, "tidy_cert_store": True, "interval_duration": "1h",
                                                "safety_buffer": "24h", "pause_duration": "1s"}, expect=200)
    pair.call("GET", f"{m}/config/auto-tidy", expect=200)
    pair.call("DELETE", f"sys/mounts/{m}", expect=204)
    pair.check()
