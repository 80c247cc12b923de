path "a" { policy = "write" }
path "b/*" { capabilities = ["sudo", "patch", "recover", "subscribe"] }
