package certs

import (
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strconv"

	"github.com/stackhub/stackhub/internal/config"
)

// OptionsFromConfig reads the ACME and DNS-01 settings of serve (docs/edge.md §1 and §4) and the edge's ports;
// the caller sets Store, Bus and Logger.
func OptionsFromConfig(c *config.Config) (Options, error) {
	o := Options{Directory: c.ACMEDirectory, Email: c.ACMEEmail, Profile: c.ACMEProfile,
		HTTPPort: listenPort(c.EdgeHTTP), TLSPort: listenPort(c.EdgeHTTPS)}
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

// listenPort is the port of a listen address (0 when there is none). certmagic answers challenges on its own
// listener at that port unless the port is taken: given the edge's ports, it finds them taken and leaves the
// answers to the edge (HTTPChallengeHandler, TLSConfig), where otherwise it would try to listen on 80 and 443.
func listenPort(addr string) int {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(port)
	return n
}
