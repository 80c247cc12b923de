# vaultlet: durable server over HTTPS, optionally with client certificates.
#
#   vaultlet server -config config/tls.hcl
#   VAULT_ADDR=https://vault.example.com:8200 VAULT_CACERT=/vault/tls/ca.crt vault status
#
# The certificate and key are PEM files (cert-manager's kubernetes.io/tls Secret
# mounted at /vault/tls fits as is); SIGHUP reloads them. Clients need TLS 1.2+.
# tls_client_ca_file makes the server ask for (but, without
# tls_require_and_verify_client_cert, not require) a client certificate, which
# `auth/cert` logins use.

listener "tcp" {
  address         = "0.0.0.0:8200"
  tls_cert_file   = "/vault/tls/tls.crt"
  tls_key_file    = "/vault/tls/tls.key"
  tls_min_version = "tls12"
  tls_client_ca_file = "/vault/tls/ca.crt"
  tls_require_and_verify_client_cert = false
}

storage "raft" {
  path = "/vault/data"
}

seal "static" {
  current_key = "env://VAULT_STATIC_SEAL_KEY"
}

api_addr      = "https://vault.example.com:8200"
disable_mlock = true
