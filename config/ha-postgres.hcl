# vaultlet: one of several replicas sharing a PostgreSQL database, one active
# at a time (the Helm chart's configuration with server.ha.enabled=true).
#
#   export VAULT_PG_CONNECTION_URL='postgres://vault:PASSWORD@db:5432/vault?sslmode=verify-full&sslrootcert=/etc/pg-ca.pem'
#   export VAULT_STATIC_SEAL_KEY=...          # the same key on every replica; keep it!
#   export VAULT_API_ADDR=http://10.0.0.7:8200          # this node, as clients reach it
#   export VAULT_CLUSTER_ADDR=https://10.0.0.7:8201     # this node, as the other nodes reach it
#   vaultlet server -config config/ha-postgres.hcl
#   VAULT_ADDR=http://10.0.0.7:8200 vault operator init   # once, on any one node
#
# Every replica unseals itself with the static key; the one holding the lock
# in the ha_table is active, the others are standbys that forward requests to
# it over the cluster port (mutual TLS with a cluster certificate kept behind
# the barrier). The server waits for the database at start (retrying) and
# answers 503 while it is unreachable.

listener "tcp" {
  address         = "0.0.0.0:8200"
  cluster_address = "0.0.0.0:8201"  # the cluster port (default: the listener's port + 1)
  tls_disable     = true            # put TLS in front, or see config/tls.hcl
}

storage "postgresql" {
  # connection_url = "postgres://…"   VAULT_PG_CONNECTION_URL wins; keep the password out of files
  ha_enabled  = "true"
  ha_lock_ttl = "1500ms"             # vaultlet's own; Vault/OpenBao keep the lock 15 s
}

seal "static" {
  current_key = "env://VAULT_STATIC_SEAL_KEY"
}

# Overridden by VAULT_API_ADDR / VAULT_CLUSTER_ADDR, which differ per node.
api_addr      = "http://127.0.0.1:8200"
cluster_addr  = "https://127.0.0.1:8201"
ui            = true
disable_mlock = true
