package certs

import (
	"crypto/x509"
	"fmt"
	"os"

	"github.com/stackhub/stackhub/internal/config"
)

// OptionsFromConfig reads the ACME and DNS-01 settings of serve (docs/edge.md §1 and §4); the caller sets Store,
// Bus, Logger and the edge's ports.
func OptionsFromConfig(c *config.Config) (Options, error) {
	o := Options{Directory: c.ACMEDirectory, Email: c.ACMEEmail}
	if c.ACMECARoot != "" {
		b, err := os.ReadFile(c.ACMECARoot)
		if err != nil {
			return o, fmt.Errorf("--acme-ca-root: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(b) {
			return o, fmt.Errorf("--acme-ca-root %s: no PEM certificate in it", c.ACMECARoot)
		}
		o.Roots = pool
	}
	switch c.DNSProvider {
	case "rfc2136":
		o.DNS = &RFC2136{Nameserver: c.RFC2136Server, KeyName: c.RFC2136Key, Secret: c.RFC2136Secret,
			Algorithm: c.RFC2136Algorithm}
	case "cloudflare":
		o.DNS = &Cloudflare{APIToken: c.CloudflareToken}
	}
	return o, nil
}
