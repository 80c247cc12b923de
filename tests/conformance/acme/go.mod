module github.com/vaultlet/vaultlet/tests/conformance/acme

go 1.26.0

require golang.org/x/crypto v0.58.0
