package config

import (
	"strings"
	"testing"
)

// The ACME settings come from flags or the environment; the DNS-01 provider's from the environment only, and an
// incomplete provider stops the start naming what is missing.
func TestCertSettings(t *testing.T) {
	c, err := load(t, []string{"--acme-email", "ops@example.com", "--acme-profile", "classic"}, "STACKHUB_ACME_DIRECTORY=https://ca.test/dir",
		"STACKHUB_DNS_PROVIDER=rfc2136", "RFC2136_NAMESERVER=10.0.0.53", "RFC2136_TSIG_KEY=k",
		"RFC2136_TSIG_SECRET=c2VjcmV0", "RFC2136_TSIG_ALGORITHM=hmac-sha512")
	if err != nil {
		t.Fatal(err)
	}
	if c.ACMEDirectory != "https://ca.test/dir" || c.ACMEEmail != "ops@example.com" || c.DNSProvider != "rfc2136" ||
		c.RFC2136Server != "10.0.0.53" || c.RFC2136Secret != "c2VjcmV0" || c.RFC2136Algorithm != "hmac-sha512" || c.ACMEProfile != "classic" {
		t.Errorf("settings = %+v", c)
	}
	if c, err := load(t, nil); err != nil || !strings.Contains(c.ACMEDirectory, "letsencrypt.org") {
		t.Errorf("default directory = %q, %v", c.ACMEDirectory, err)
	}
	for _, bad := range []struct {
		env  []string
		says string
	}{
		{[]string{"STACKHUB_DNS_PROVIDER=rfc2136", "RFC2136_NAMESERVER=10.0.0.53"}, "RFC2136_TSIG_KEY"},
		{[]string{"STACKHUB_DNS_PROVIDER=cloudflare"}, "CLOUDFLARE_DNS_API_TOKEN"},
		{[]string{"STACKHUB_DNS_PROVIDER=route53"}, "want rfc2136 or cloudflare"},
		{[]string{"STACKHUB_ACME_DIRECTORY=ca.test/dir"}, "--acme-directory"},
		{[]string{"STACKHUB_ACME_PROFILE=short lived; rm"}, "--acme-profile"},
	} {
		if _, err := load(t, nil, bad.env...); err == nil || !strings.Contains(err.Error(), bad.says) {
			t.Errorf("%v: err = %v, want it to name %s", bad.env, err, bad.says)
		}
	}
}
