package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func load(t *testing.T, args []string, env ...string) (*Config, error) {
	t.Helper()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	Flags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return Load(fs, env)
}

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	c, err := load(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != ":8080" || c.WSListen != ":2333" || !strings.HasSuffix(c.DataDir, "/data") ||
		c.Database != filepath.Join(c.DataDir, "stackhub.db") {
		t.Errorf("defaults = %+v", c)
	}
	c, err = load(t, nil, "STACKHUB_LISTEN=127.0.0.1:9000", "STACKHUB_DATA_DIR="+dir, "DOGETOK=tok",
		"DATABASE_URL=postgres://u@h/db", "WEBHOOKS=newUser:https://x.org/hook", "UNRELATED=1")
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9000" || c.DataDir != dir || c.AdminToken != "tok" || c.Database != "postgres://u@h/db" ||
		len(c.Hooks) != 1 || c.Hooks[0].URL != "https://x.org/hook" {
		t.Errorf("from env = %+v", c)
	}
	if c.SourceSync != 6*time.Hour {
		t.Errorf("source sync default %v, want 6h", c.SourceSync)
	}
	if c.WebhookSecret != "" || c.WebhookTimeout != 10*time.Second || c.WebhookAttempts != 15 {
		t.Errorf("webhook defaults: timeout %v, attempts %d, secret set %v", c.WebhookTimeout, c.WebhookAttempts,
			c.WebhookSecret != "")
	}
	c, err = load(t, []string{"--webhook-attempts", "3"}, "STACKHUB_WEBHOOK_SECRET=s3cret",
		"STACKHUB_WEBHOOK_TIMEOUT=2s", "STACKHUB_WEBHOOK_ATTEMPTS=9")
	if err != nil {
		t.Fatal(err)
	}
	if c2, err := load(t, []string{"--source-sync", "0"}, "STACKHUB_SOURCE_SYNC=30m"); err != nil || c2.SourceSync != 0 {
		t.Errorf("--source-sync 0 (the flag wins): %v, %v", c2, err)
	}
	if c2, err := load(t, nil, "STACKHUB_SOURCE_SYNC=30m"); err != nil || c2.SourceSync != 30*time.Minute {
		t.Errorf("STACKHUB_SOURCE_SYNC=30m: %v, %v", c2, err)
	}
	if c.WebhookSecret != "s3cret" || c.WebhookTimeout != 2*time.Second || c.WebhookAttempts != 3 {
		t.Errorf("webhook settings: timeout %v, attempts %d (flag wins), secret %q", c.WebhookTimeout,
			c.WebhookAttempts, c.WebhookSecret)
	}
	c, err = load(t, []string{"--listen", "127.0.0.1:9001", "--database", dir + "/x.db"},
		"STACKHUB_LISTEN=127.0.0.1:9000", "DATABASE_URL=postgres://u@h/db")
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9001" || c.Database != dir+"/x.db" {
		t.Errorf("flags should win over env: %+v", c)
	}
}

func TestInvalid(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		env      []string
		mentions string
	}{
		{[]string{"--listen", "nonsense"}, nil, "--listen"},
		{nil, []string{"STACKHUB_WS_LISTEN=2333"}, "--ws-listen"},
		{nil, []string{"WEBHOOKS=pushApp:1:https://x.org"}, "pushApp"},
		{nil, []string{"WEBHOOKS=commentApp:abc:https://x.org"}, "commentApp:abc"},
		{nil, []string{"STACKHUB_LOG_LEVEL=loud"}, "--log-level"},
		{[]string{"--data-dir", " "}, nil, "--data-dir"},
		{nil, []string{"STACKHUB_WEBHOOK_TIMEOUT=soon"}, "--webhook-timeout"},
		{[]string{"--webhook-attempts", "0"}, nil, "--webhook-attempts"},
		{nil, []string{"STACKHUB_SOURCE_SYNC=daily"}, "--source-sync"},
		{[]string{"--source-sync", "-1h"}, nil, "--source-sync"},
		{[]string{"--publish", "lan"}, nil, "--publish"},
		{nil, []string{"STACKHUB_ENGINE=k8s"}, "--engine"},
		{[]string{"--engine", "swarm", "--publish", "loopback"}, nil, "--engine swarm"},
		{nil, []string{"STACKHUB_EDGE_HTTPS=443"}, "--edge-https"},
		{[]string{"--trusted-proxies", "10.0.0.0/8,nope"}, nil, "--trusted-proxies"},
		{[]string{"--domain", "https://hub.example.com"}, nil, "--domain"},
	} {
		if _, err := load(t, tc.args, tc.env...); err == nil || !strings.Contains(err.Error(), tc.mentions) {
			t.Errorf("%v %v: err = %v, want one naming %q", tc.args, tc.env, err, tc.mentions)
		}
	}
}

// TestEdgeSettings reads the edge's settings from the environment: the listeners, StackHub's name (lowercase),
// --publish loopback as 127.0.0.1, trusted proxies as CIDRs (an address as its /32) and the DNS provider.
func TestEdgeSettings(t *testing.T) {
	c, err := load(t, nil, "STACKHUB_EDGE_HTTP=:80", "STACKHUB_EDGE_HTTPS=:443", "STACKHUB_DOMAIN=Hub.Example.com.",
		"STACKHUB_PUBLISH=loopback", "STACKHUB_TRUSTED_PROXIES=10.0.0.0/8, 192.0.2.7", "STACKHUB_DNS_PROVIDER=rfc2136",
		"RFC2136_NAMESERVER=192.0.2.53:53", "RFC2136_TSIG_KEY=stackhub.", "RFC2136_TSIG_SECRET=c2VjcmV0")
	if err != nil {
		t.Fatal(err)
	}
	if c.EdgeHTTP != ":80" || c.EdgeHTTPS != ":443" || c.Domain != "hub.example.com" || c.PublishIP != "127.0.0.1" ||
		c.DNSProvider != "rfc2136" || len(c.TrustedProxies) != 2 || c.TrustedProxies[1].String() != "192.0.2.7/32" {
		t.Errorf("edge settings: %+v", c)
	}
}

func TestRequire2FA(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  []string
		want bool
	}{
		{nil, nil, false},
		{[]string{"--require-2fa"}, nil, true},
		{nil, []string{"STACKHUB_REQUIRE_2FA=true"}, true},
		{[]string{"--require-2fa=false"}, []string{"STACKHUB_REQUIRE_2FA=true"}, false},
	} {
		c, err := load(t, tc.args, tc.env...)
		if err != nil || c.Require2FA != tc.want {
			t.Errorf("%v %v: Require2FA = %v, %v; want %v", tc.args, tc.env, c != nil && c.Require2FA, err, tc.want)
		}
	}
	if _, err := load(t, nil, "STACKHUB_REQUIRE_2FA=maybe"); err == nil || !strings.Contains(err.Error(), "--require-2fa") {
		t.Errorf("STACKHUB_REQUIRE_2FA=maybe: %v, want an error naming --require-2fa", err)
	}
}
