# vaultlet: a throwaway server from a config file.
#
#   vaultlet server -config config/dev.hcl
#
# Unlike `vaultlet server -dev` this does not initialize itself: the in-memory
# store starts uninitialized and sealed, as Vault's `inmem` storage does, so run
#   vault operator init -key-shares=1 -key-threshold=1
#   vault operator unseal <key>
# once per start. Everything is lost when the process exits. For a ready-to-use
# server with a known root token, prefer `vaultlet server -dev -dev-root-token-id=root`.

listener "tcp" {
  address     = "127.0.0.1:8200"
  tls_disable = true            # plain HTTP: loopback only
}

storage "inmem" {}

api_addr      = "http://127.0.0.1:8200"
ui            = false           # true: the web UI at /ui/
disable_mlock = true            # accepted and ignored
