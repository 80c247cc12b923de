# vaultlet: a durable server that unseals itself. This is the configuration the
# container image and the Kubernetes manifests use in durable mode
# (docker/k8s/durable/, the Helm chart with server.dev.enabled=false).
#
#   export VAULT_STATIC_SEAL_KEY=$(head -c 32 /dev/urandom | base64)   # keep it!
#   vaultlet server -config config/durable.hcl
#   VAULT_ADDR=http://127.0.0.1:8200 vault operator init   # once, on a new store
#
# The store lives in /vault/data (a redb database; "raft", "file" and "redb"
# all mean it). The static seal encrypts it with the 32-byte key and unseals on
# every start without `vault operator unseal`; the key may also be given as
# "file:///path/to/key" (raw, hex or base64) or inline as hex/base64.
# Losing the key loses the data.

listener "tcp" {
  address     = "0.0.0.0:8200"
  tls_disable = true            # put TLS in front, or see config/tls.hcl
}

storage "raft" {
  path = "/vault/data"
}

seal "static" {
  current_key = "env://VAULT_STATIC_SEAL_KEY"
}

api_addr      = "http://vault.vault-demo:8200"
ui            = false
disable_mlock = true
