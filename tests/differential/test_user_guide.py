"""The user guide's Step 2 as the `vault` CLI sends it, then what cert-manager
sends. The guide is the Istio guide "Istio with Vault PKI as root of trust via
cert-manager": a Vault PKI root, cert-manager (AppRole login) fetching Istio's
intermediate CA from pki/root/sign-intermediate and writing Istio's cacerts
Secret; its Step 2 is the Vault set-up."""
from cli import (auth_enable, cli_read, cli_write, policy_write, save,
                 secrets_enable, secrets_tune_max)

POLICY = 'path "pki/root/sign-intermediate" {\n  capabilities = ["create", "update"]\n}\n'


def test_user_guide_step2_and_cert_manager_requests(pair, csr):
    secrets_enable(pair, "pki", "pki")
    secrets_tune_max(pair, "pki", "87600h0m0s")
    cli_write(pair, "pki/root/generate/internal", common_name="my-org-rootca", issuer_name="my-org-rootca-demo",
              ttl="8760h", expect=200)
    cli_write(pair, "pki/config/urls", issuing_certificates="http://vault.vault-demo:8200/v1/pki/ca",
              crl_distribution_points="http://vault.vault-demo:8200/v1/pki/crl", expect=200)
    cli_write(pair, "pki/roles/cert-manager", allowed_domains="svc", require_cn="false", allow_subdomains="true",
              max_ttl="720h", expect=200)
    policy_write(pair, "cert-manager", POLICY)
    auth_enable(pair, "approle", "approle")
    cli_write(pair, "auth/approle/role/cert-manager", token_policies="cert-manager", token_ttl="1h",
              token_max_ttl="2h", expect=204)
    ra, rb = cli_read(pair, "auth/approle/role/cert-manager/role-id", expect=200)
    save(pair, "role_id", ra, rb, "data", "role_id")
    ra, rb = cli_write(pair, "auth/approle/role/cert-manager/secret-id", expect=200)
    save(pair, "secret_id", ra, rb, "data", "secret_id")
    # The guide re-run: issuer_name already in use.
    cli_write(pair, "pki/root/generate/internal", common_name="my-org-rootca", issuer_name="my-org-rootca-demo",
              ttl="8760h", expect=400)

    # cert-manager: login, health, sign-intermediate (string-typed body).
    ra, rb = pair.call("POST", "auth/approle/login", {"role_id": "<<role_id>>", "secret_id": "<<secret_id>>\n".strip()},
                       token="", expect=200)
    save(pair, "cm_token", ra, rb, "auth", "client_token")
    pair.call("GET", "sys/health", token="<<cm_token>>", expect=200)
    body = {"alt_names": "", "common_name": "istiod-ca", "csr": csr("istiod-ca"), "exclude_cn_from_sans": "true",
            "ip_sans": "", "ttl": "720h0m0s", "uri_sans": ""}
    pair.call("POST", "pki/root/sign-intermediate", body, token="<<cm_token>>", expect=200)
    # The policy grants sign-intermediate only.
    pair.call("POST", "pki/sign/cert-manager", body, token="<<cm_token>>", expect=403)
    pair.call("POST", "sys/capabilities-self", {"paths": ["pki/root/sign-intermediate", "pki/issue/x"]},
              token="<<cm_token>>", expect=200)
    # What the guide's Step 6 inspects.
    pair.call("GET", "pki/ca/pem", expect=200)
    pair.call("GET", "pki/ca_chain", expect=200)
    pair.call("GET", "pki/crl/pem", expect=200)
    pair.check()
