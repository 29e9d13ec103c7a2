module github.com/quantum-safe-proxy/quantum-safe-proxy

go 1.27

toolchain go1.27.4

require (
	github.com/cloudflare/circl v1.6.5
	github.com/coreos/go-systemd/v22 v22.7.0
	github.com/google/renameio/v2 v2.0.2
	github.com/hashicorp/go-multierror v1.1.1
	golang.org/x/sys v0.48.0
)

require (
	github.com/hashicorp/errwrap v1.0.0 // indirect
	github.com/prometheus/client_golang v1.25.0 // indirect
)
