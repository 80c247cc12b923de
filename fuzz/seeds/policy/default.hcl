path "auth/token/lookup-self" {
    capabilities = ["read"]
}
path "sys/capabilities-self" {
    capabilities = ["update"]
}
path "secret/+/data/*" {
  capabilities = ["create", "read", "update", "list"]
  allowed_parameters = {
    "ttl" = ["1h", "2h"]
    "*" = []
  }
  denied_parameters = { "secret" = [] }
  required_parameters = ["ttl"]
  min_wrapping_ttl = "1s"
}
path "pki/issue/*" { capabilities = ["deny"] }
