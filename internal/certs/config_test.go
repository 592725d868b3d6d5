package certs_test

import (
	"testing"

	"github.com/stackhub/stackhub/internal/certs"
	"github.com/stackhub/stackhub/internal/config"
)

// The edge's listen ports become certmagic's challenge ports: it finds them taken and leaves the answers to the
// edge, where with none it would listen on 80 and 443 itself (and fail there when not root).
func TestOptionsFromConfigTakesEdgePorts(t *testing.T) {
	o, err := certs.OptionsFromConfig(&config.Config{EdgeHTTP: "127.0.0.1:8080", EdgeHTTPS: ":8443"})
	if err != nil || o.HTTPPort != 8080 || o.TLSPort != 8443 {
		t.Errorf("ports %d %d, %v", o.HTTPPort, o.TLSPort, err)
	}
	if o, _ := certs.OptionsFromConfig(&config.Config{}); o.HTTPPort != 0 || o.TLSPort != 0 {
		t.Errorf("no edge: ports %d %d", o.HTTPPort, o.TLSPort)
	}
}
