"""cert-manager's e2e Vault set-up (test/e2e/framework/addon/vault), call by call,
then the Issuer's logins and signs."""
import uuid

from cli import api_enable_auth, api_mount, cli_read, cli_write, save


def test_cert_manager_e2e_setup_sequence(pair, csr, client_cert):
    i = "cm" + uuid.uuid4().hex[:8]
    pair.setv("i", i)
    pair.setv("k8s_ca", client_cert[0])   # any certificate will do as the (unused) API server CA
    pair.call("GET", "sys/health", token="", query={
        "drsecondarycode": "299", "haunhealthycode": "299", "performancestandbycode": "299", "removedcode": "299",
        "sealedcode": "299", "standbycode": "299", "uninitcode": "299"}, expect=200)
    api_mount(pair, "pki", f"{i}-root-ca", "87600h")
    ra, rb = pair.call("PUT", f"{i}-root-ca/root/generate/internal", {
        "common_name": "Root CA", "exclude_cn_from_sans": True, "key_bits": 256, "key_type": "ec", "ttl": "87600h"},
        expect=200)
    save(pair, "root_pem", ra, rb, "data", "certificate")
    for m in (f"{i}-root-ca",):
        pair.call("PUT", f"{m}/config/urls", {"crl_distribution_points": [f"https://vault.vault:8200/v1/{m}/crl"],
                                             "issuing_certificates": [f"https://vault.vault:8200/v1/{m}/ca"]}, expect=200)
    api_mount(pair, "pki", f"{i}-intermediate-ca", "43800h")
    ra, rb = pair.call("PUT", f"{i}-intermediate-ca/intermediate/generate/internal", {
        "common_name": "Intermediate CA", "exclude_cn_from_sans": True, "key_bits": 256, "key_type": "ec",
        "ttl": "43800h"}, expect=200)
    save(pair, "int_csr", ra, rb, "data", "csr")
    ra, rb = pair.call("PUT", f"{i}-root-ca/root/sign-intermediate", {
        "csr": "<<int_csr>>", "exclude_cn_from_sans": True, "ttl": "43800h", "use_csr_values": True}, expect=200)
    save(pair, "int_pem", ra, rb, "data", "certificate")
    pair.call("PUT", f"{i}-intermediate-ca/intermediate/set-signed", {"certificate": "<<int_pem>>\n<<root_pem>>"},
              expect=200)
    # Importing the same chain again is idempotent.
    pair.call("PUT", f"{i}-intermediate-ca/intermediate/set-signed", {"certificate": "<<int_pem>>"}, expect=200)
    m = f"{i}-intermediate-ca"
    pair.call("PUT", f"{m}/config/urls", {"crl_distribution_points": [f"https://vault.vault:8200/v1/{m}/crl"],
                                         "issuing_certificates": [f"https://vault.vault:8200/v1/{m}/ca"]}, expect=200)
    role = f"{i}-role"
    pair.call("PUT", f"{m}/roles/{role}", {
        "allow_any_name": "true", "allow_bare_domains": "true", "allowed_other_sans": "*",
        "allowed_uri_sans": "spiffe://cluster.local/*", "enforce_hostnames": "false", "key_type": "any",
        "max_ttl": "2160h", "require_cn": "false", "use_csr_sans": "true"}, expect=200)
    pair.call("GET", "sys/auth", expect=200)
    api_enable_auth(pair, "approle", f"{i}-auth-approle")
    api_enable_auth(pair, "kubernetes", f"{i}-auth-kubernetes")
    api_enable_auth(pair, "cert", f"{i}-auth-clientcert")
    pair.call("PUT", f"auth/{i}-auth-kubernetes/config", {
        "disable_iss_validation": True, "kubernetes_host": "https://kubernetes.default.svc.cluster.local"}, expect=204)
    # Off-cluster the reference server cannot read the pod's CA file it
    # defaults kubernetes_ca_cert to (allow-listed); configure it explicitly
    # so the rest of the sequence runs against a configured mount on both.
    pair.call("PUT", f"auth/{i}-auth-kubernetes/config", {
        "disable_iss_validation": True, "kubernetes_host": "https://kubernetes.default.svc.cluster.local",
        "kubernetes_ca_cert": "<<k8s_ca>>", "disable_local_ca_jwt": True}, expect=204)
    pair.call("GET", f"auth/{i}-auth-kubernetes/config", expect=200)
    pair.call("PUT", f"sys/policies/acl/{role}",
              {"policy": f'path "{m}/sign/{role}" {{ capabilities = [ "create", "update" ] }}'}, expect=204)
    pair.call("PUT", f"auth/{i}-auth-approle/role/{role}", {"token_period": "24h", "token_policies": [role]},
              expect=204)
    ra, rb = cli_read(pair, f"auth/{i}-auth-approle/role/{role}/role-id", expect=200)
    save(pair, "role_id", ra, rb, "data", "role_id")
    ra, rb = cli_write(pair, f"auth/{i}-auth-approle/role/{role}/secret-id", expect=200)
    save(pair, "secret_id", ra, rb, "data", "secret_id")
    pair.call("PUT", f"auth/{i}-auth-kubernetes/role/{role}", {
        "bound_service_account_names": ["vault-sa"], "bound_service_account_namespaces": ["e2e"],
        "token_period": "24h", "token_policies": [role]}, expect=(200, 204))
    pair.call("GET", f"auth/{i}-auth-kubernetes/role/{role}", expect=200)
    cert_pem, _ = client_cert
    pair.call("PUT", f"auth/{i}-auth-clientcert/certs/{role}", {
        "certificate": cert_pem, "display_name": role, "token_policies": [role], "token_ttl": "3600"}, expect=(200, 204))
    pair.call("GET", f"auth/{i}-auth-clientcert/certs/{role}", expect=200)

    # The Issuer: AppRole login, health, sign with cert-manager's body.
    ra, rb = pair.call("POST", f"auth/{i}-auth-approle/login", {"role_id": "<<role_id>>", "secret_id": "<<secret_id>>"},
                       token="", expect=200)
    save(pair, "tok", ra, rb, "auth", "client_token")
    pair.call("GET", "sys/health", token="<<tok>>", expect=200)
    for ttl in ("1h0m0s", "2160h0m0s", "8760h0m0s"):
        pair.call("POST", f"{m}/sign/{role}", {
            "alt_names": "e2e.example.com,*.wild.example.com", "common_name": "e2e.example.com",
            "csr": csr("e2e.example.com", dns=["e2e.example.com", "*.wild.example.com"], ips=["127.0.0.1", "::1"],
                       uris=["spiffe://cluster.local/ns/sandbox/sa/foo"], emails=["alice@example.com"]),
            "exclude_cn_from_sans": "true", "ip_sans": "127.0.0.1,::1",
            "ttl": ttl, "uri_sans": "spiffe://cluster.local/ns/sandbox/sa/foo"}, token="<<tok>>", expect=200)
    # The AppRole token may not sign elsewhere; a bad login is a 400.
    pair.call("POST", f"{i}-root-ca/root/sign-intermediate", {"csr": "<<int_csr>>"}, token="<<tok>>", expect=403)
    pair.call("POST", f"auth/{i}-auth-approle/login", {"role_id": "<<role_id>>", "secret_id": "wrong"}, token="",
              expect=400)
    pair.call("POST", f"auth/{i}-auth-kubernetes/login", {"role": role, "jwt": "not-a-jwt"}, token="")
    pair.call("POST", f"auth/{i}-auth-clientcert/login", {"name": role}, token="")

    # Clean (VaultInitializer.Clean).
    pair.call("DELETE", f"auth/{i}-auth-approle/role/{role}", expect=204)
    pair.call("DELETE", f"auth/{i}-auth-kubernetes/role/{role}", expect=204)
    pair.call("DELETE", f"sys/policies/acl/{role}", expect=204)
    pair.call("DELETE", f"sys/mounts/{i}-intermediate-ca", expect=204)
    pair.call("DELETE", f"sys/mounts/{i}-root-ca", expect=204)
    pair.call("DELETE", f"sys/mounts/{i}-root-ca", expect=204)
    pair.check()


def test_cert_role_display_name_defaults_to_its_name(pair, client_cert):
    m = "c" + uuid.uuid4().hex[:8]
    pair.call("POST", f"sys/auth/{m}", {"type": "cert"}, expect=204)
    cert_pem, _ = client_cert
    pair.call("PUT", f"auth/{m}/certs/Web-Servers", {"certificate": cert_pem}, expect=204)
    pair.call("GET", f"auth/{m}/certs/Web-Servers", expect=200)
    pair.call("GET", f"auth/{m}/certs/web-servers", expect=200)
    pair.call("PUT", f"auth/{m}/certs/named", {"certificate": cert_pem, "display_name": "Shown"}, expect=204)
    pair.call("GET", f"auth/{m}/certs/named", expect=200)
    pair.call("DELETE", f"sys/auth/{m}", expect=204)
    pair.check()
