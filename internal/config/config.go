// Package config builds StackHub's settings once, in main: defaults, then environment variables (STACKHUB_* and the
// original names DOGETOK, WEBHOOKS, DATABASE_URL), then command-line flags.
package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/knadh/koanf/providers/posflag"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"

	"github.com/stackhub/stackhub/internal/catalog"
	"github.com/stackhub/stackhub/internal/store"
	"github.com/stackhub/stackhub/internal/webhook"
)

// Config is every setting of `stackhub serve`.
type Config struct {
	Listen     string `koanf:"listen"`
	WSListen   string `koanf:"ws-listen"`
	DataDir    string `koanf:"data-dir"`
	Database   string `koanf:"database"`
	AdminToken string `koanf:"dogetok"`
	Webhooks   string `koanf:"webhooks"`
	LogLevel   string `koanf:"log-level"`
	Prefix     string `koanf:"prefix"`
	PublicAddr string `koanf:"public-address"`
	Health     string `koanf:"health-timeout"`
	// Engine runs the installs: docker (the one engine of DOCKER_HOST) or swarm (DOCKER_HOST is a Swarm manager).
	Engine string `koanf:"engine"`
	// WebhookSecret signs webhook bodies (HMAC-SHA256); environment only, so it never shows in a process list.
	WebhookSecret   string `koanf:"webhook-secret"`
	WebhookTimeoutS string `koanf:"webhook-timeout"`
	WebhookTriesS   string `koanf:"webhook-attempts"`
	MaxStackS       string `koanf:"max-stack-size"`
	SourceSyncS     string `koanf:"source-sync"`
	Require2FAS     string `koanf:"require-2fa"`
	// The edge (docs/edge.md): its listeners, StackHub's own name, where installs publish ports, trusted proxies.
	EdgeHTTP        string `koanf:"edge-http"`
	EdgeHTTPS       string `koanf:"edge-https"`
	Domain          string `koanf:"domain"`
	Publish         string `koanf:"publish"`
	TrustedProxiesS string `koanf:"trusted-proxies"`

	// Certificates of the edge (docs/edge.md §3–4).
	ACMEDirectory string `koanf:"acme-directory"`
	ACMEEmail     string `koanf:"acme-email"`
	ACMECARoot    string `koanf:"acme-ca-root"` // a PEM file of extra roots to trust when talking to the ACME server
	ACMEProfile   string `koanf:"acme-profile"` // the ACME certificate profile to ask for; empty: the CA's choice
	// DNS-01 for wildcard names; environment only, as lego names them (the secrets never show in ps).
	DNSProvider      string `koanf:"dns-provider"`
	RFC2136Server    string `koanf:"rfc2136-nameserver"`
	RFC2136Key       string `koanf:"rfc2136-tsig-key"`
	RFC2136Secret    string `koanf:"rfc2136-tsig-secret"`
	RFC2136Algorithm string `koanf:"rfc2136-tsig-algorithm"`
	CloudflareToken  string `koanf:"cloudflare-dns-api-token"`
	StoreOrderS      string `koanf:"store-order"`

	Hooks           []webhook.Hook `koanf:"-"`
	HealthTimeout   time.Duration  `koanf:"-"`
	WebhookTimeout  time.Duration  `koanf:"-"`
	WebhookAttempts int            `koanf:"-"`
	MaxStackSize    int            `koanf:"-"` // bytes a user's published stack may hold
	SourceSync      time.Duration  `koanf:"-"` // between scheduled syncs of the store sources; 0: on demand only
	Require2FA      bool           `koanf:"-"` // operators and admin users must set up a second factor
	TrustedProxies  []netip.Prefix `koanf:"-"`
	PublishIP       string         `koanf:"-"` // "" (all) or "127.0.0.1" (loopback)
	StoreOrder      []string       `koanf:"-"` // the stores whose versions an install prefers, most preferred first
}

// envNames maps environment variables to setting keys.
var envNames = map[string]string{
	"STACKHUB_LISTEN":           "listen",
	"STACKHUB_WS_LISTEN":        "ws-listen",
	"STACKHUB_DATA_DIR":         "data-dir",
	"STACKHUB_DATABASE":         "database",
	"DATABASE_URL":              "database",
	"DOGETOK":                   "dogetok",
	"WEBHOOKS":                  "webhooks",
	"STACKHUB_LOG_LEVEL":        "log-level",
	"STACKHUB_PREFIX":           "prefix",
	"STACKHUB_PUBLIC_ADDRESS":   "public-address",
	"STACKHUB_HEALTH_TIMEOUT":   "health-timeout",
	"STACKHUB_ENGINE":           "engine",
	"STACKHUB_WEBHOOK_SECRET":   "webhook-secret",
	"STACKHUB_WEBHOOK_TIMEOUT":  "webhook-timeout",
	"STACKHUB_WEBHOOK_ATTEMPTS": "webhook-attempts",
	"STACKHUB_MAX_STACK_SIZE":   "max-stack-size",
	"STACKHUB_SOURCE_SYNC":      "source-sync",
	"STACKHUB_REQUIRE_2FA":      "require-2fa",
	"STACKHUB_EDGE_HTTP":        "edge-http",
	"STACKHUB_EDGE_HTTPS":       "edge-https",
	"STACKHUB_DOMAIN":           "domain",
	"STACKHUB_PUBLISH":          "publish",
	"STACKHUB_TRUSTED_PROXIES":  "trusted-proxies",
	"STACKHUB_DNS_PROVIDER":     "dns-provider",
	// Certificates of the edge.
	"STACKHUB_ACME_DIRECTORY":  "acme-directory",
	"STACKHUB_ACME_EMAIL":      "acme-email",
	"STACKHUB_ACME_CA_ROOT":    "acme-ca-root",
	"STACKHUB_ACME_PROFILE":    "acme-profile",
	"RFC2136_NAMESERVER":       "rfc2136-nameserver",
	"RFC2136_TSIG_KEY":         "rfc2136-tsig-key",
	"RFC2136_TSIG_SECRET":      "rfc2136-tsig-secret",
	"RFC2136_TSIG_ALGORITHM":   "rfc2136-tsig-algorithm",
	"CLOUDFLARE_DNS_API_TOKEN": "cloudflare-dns-api-token",
	"STACKHUB_STORE_ORDER":     "store-order",
}

// Flags declares the serve flags on fs with their defaults.
func Flags(fs *pflag.FlagSet) {
	fs.String("listen", ":8080", "HTTP listen address (env STACKHUB_LISTEN)")
	fs.String("ws-listen", ":2333", "GeekApk WebSocket listen address (env STACKHUB_WS_LISTEN)")
	fs.String("data-dir", "./data", "data directory (env STACKHUB_DATA_DIR)")
	fs.String("database", "", "database: a SQLite path, or postgres://... (env DATABASE_URL; default SQLite in the data dir)")
	fs.String("log-level", "info", "log level: debug, info, warn, error (env STACKHUB_LOG_LEVEL)")
	fs.String("prefix", "stackhub", "name prefix of installed apps' projects and containers (env STACKHUB_PREFIX)")
	fs.String("public-address", "", "this server's address in app URLs (W9_URL); default: its first non-loopback IP (env STACKHUB_PUBLIC_ADDRESS)")
	fs.String("engine", "docker", "what runs installed apps: docker (the Docker Engine of DOCKER_HOST), or swarm (DOCKER_HOST is a Swarm manager; apps spread over its nodes) (env STACKHUB_ENGINE)")
	fs.String("health-timeout", "5m", "how long an install waits for the app to be healthy (env STACKHUB_HEALTH_TIMEOUT)")
	fs.String("webhook-timeout", "10s", "how long one webhook attempt may take (env STACKHUB_WEBHOOK_TIMEOUT)")
	fs.String("webhook-attempts", "15", "attempts before a webhook delivery fails for good (env STACKHUB_WEBHOOK_ATTEMPTS)")
	fs.String("edge-http", "", "address of the edge's plain HTTP listener, e.g. :80; empty: off (env STACKHUB_EDGE_HTTP)")
	fs.String("edge-https", "", "address of the edge's TLS listener, e.g. :443; empty: off (env STACKHUB_EDGE_HTTPS)")
	fs.String("domain", "", "StackHub's own name, served through the edge (env STACKHUB_DOMAIN)")
	fs.String("publish", "all", "where new installs publish their ports: all, or loopback so apps are reached through the edge alone (env STACKHUB_PUBLISH)")
	fs.String("trusted-proxies", "", "comma-separated CIDRs whose X-Forwarded-* headers the edge believes (env STACKHUB_TRUSTED_PROXIES)")
	// Certificates of the edge.
	fs.String("acme-directory", "https://acme-v02.api.letsencrypt.org/directory", "the ACME directory URL (env STACKHUB_ACME_DIRECTORY)")
	fs.String("acme-email", "", "the ACME account's contact address (env STACKHUB_ACME_EMAIL)")
	fs.String("acme-ca-root", "", "a PEM file of extra roots to trust when talking to the ACME server (env STACKHUB_ACME_CA_ROOT)")
	fs.String("acme-profile", "", "the ACME certificate profile to ask for, one the CA's directory lists, e.g. classic or shortlived; empty: the CA's choice (env STACKHUB_ACME_PROFILE)")
	fs.String("store-order", DefaultStoreOrder, "the stores whose version an install takes when it names none, most preferred first; stores not listed come after, by name (env STACKHUB_STORE_ORDER)")
	fs.String("max-stack-size", strconv.Itoa(catalog.DefaultMaxSize), "bytes a stack that an ordinary user publishes may hold, compose, .env and files together; the administrator's imports may hold 64 MiB (env STACKHUB_MAX_STACK_SIZE)")
	fs.String("require-2fa", "false", "operators and admin users must set up a second factor (an authenticator app or a passkey) before they can do anything else (env STACKHUB_REQUIRE_2FA)")
	fs.Lookup("require-2fa").NoOptDefVal = "true"
	fs.String("source-sync", "6h", "how often every store source is synced, one at a time; 0 syncs them only on demand (env STACKHUB_SOURCE_SYNC)")
}

// Load reads the environment (through getenv) and the parsed flags, and validates the result.
func Load(fs *pflag.FlagSet, environ []string) (*Config, error) {
	k := koanf.New(".")
	if err := k.Load(posflag.Provider(fs, ".", k), nil); err != nil {
		return nil, fmt.Errorf("flag defaults: %w", err)
	}
	// The environment is read from the given list (not os.Environ) so tests can pass their own.
	for _, kv := range environ {
		name, v, _ := strings.Cut(kv, "=")
		if key, ok := envNames[name]; ok {
			if err := k.Set(key, v); err != nil {
				return nil, fmt.Errorf("environment %s: %w", name, err)
			}
		}
	}
	// Flags set on the command line win over the environment.
	changed := koanf.New(".")
	if err := changed.Load(posflag.ProviderWithFlag(fs, ".", nil, func(f *pflag.Flag) (string, any) {
		if !f.Changed {
			return "", nil
		}
		return f.Name, posflag.FlagVal(fs, f)
	}), nil); err != nil {
		return nil, fmt.Errorf("flags: %w", err)
	}
	if err := k.Merge(changed); err != nil {
		return nil, fmt.Errorf("flags: %w", err)
	}
	var c Config
	if err := k.Unmarshal("", &c); err != nil {
		return nil, fmt.Errorf("settings: %w", err)
	}
	return &c, c.Validate()
}

// Validate checks the settings and fills the derived ones.
func (c *Config) Validate() error {
	for name, addr := range map[string]string{"--listen": c.Listen, "--ws-listen": c.WSListen} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("%s %q: want host:port or :port", name, addr)
		}
	}
	if strings.TrimSpace(c.DataDir) == "" {
		return fmt.Errorf("--data-dir may not be empty")
	}
	abs, err := filepath.Abs(c.DataDir)
	if err != nil {
		return fmt.Errorf("--data-dir %q: %w", c.DataDir, err)
	}
	c.DataDir = abs
	if c.Database == "" {
		c.Database = store.DefaultSQLitePath(c.DataDir)
	}
	if c.Hooks, err = webhook.Parse(c.Webhooks); err != nil {
		return err
	}
	if !prefixRe.MatchString(c.Prefix) {
		return fmt.Errorf("--prefix %q: use 1 to 20 lowercase letters, digits or -, starting with a letter", c.Prefix)
	}
	if c.MaxStackSize, err = strconv.Atoi(c.MaxStackS); err != nil || c.MaxStackSize < 1 || c.MaxStackSize > catalog.MaxImportSize {
		return fmt.Errorf("--max-stack-size %q: want a number of bytes from 1 to %d", c.MaxStackS, catalog.MaxImportSize)
	}
	if c.HealthTimeout, err = time.ParseDuration(c.Health); err != nil || c.HealthTimeout <= 0 {
		return fmt.Errorf("--health-timeout %q: want a duration such as 5m", c.Health)
	}
	if c.WebhookTimeout, err = time.ParseDuration(c.WebhookTimeoutS); err != nil || c.WebhookTimeout <= 0 {
		return fmt.Errorf("--webhook-timeout %q: want a duration such as 10s", c.WebhookTimeoutS)
	}
	if c.WebhookAttempts, err = strconv.Atoi(c.WebhookTriesS); err != nil || c.WebhookAttempts < 1 {
		return fmt.Errorf("--webhook-attempts %q: want a whole number, 1 or more", c.WebhookTriesS)
	}
	if c.Require2FA, err = strconv.ParseBool(c.Require2FAS); err != nil {
		return fmt.Errorf("--require-2fa %q: want true or false", c.Require2FAS)
	}
	if c.SourceSync, err = time.ParseDuration(c.SourceSyncS); err != nil || c.SourceSync < 0 {
		return fmt.Errorf("--source-sync %q: want a duration such as 6h, or 0 to sync only on demand", c.SourceSyncS)
	}
	if err := c.validateEdge(); err != nil {
		return err
	}
	switch c.Engine {
	case "docker", "swarm":
	default:
		return fmt.Errorf("--engine %q: want docker or swarm", c.Engine)
	}
	if c.Engine == "swarm" && c.PublishIP != "" {
		// Swarm publishes a task's ports on its node's addresses, which the edge reaches from this machine.
		return fmt.Errorf("--publish loopback does not work with --engine swarm: apps on other nodes would be unreachable; use --publish all")
	}
	if err := c.validateCerts(); err != nil {
		return err
	}
	if c.StoreOrder, err = parseStoreOrder(c.StoreOrderS); err != nil {
		return err
	}
	if c.PublicAddr == "" {
		c.PublicAddr = firstAddress()
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", c.LogLevel)
	}
	return nil
}

// profileName is what an ACME profile name may be (RFC draft-ietf-acme-profiles: a short token).
var profileName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// validateCerts checks the ACME and DNS-01 settings.
func (c *Config) validateCerts() error {
	if u, err := url.Parse(c.ACMEDirectory); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("--acme-directory %q: want the ACME directory's URL, https://…/directory", c.ACMEDirectory)
	}
	if c.ACMEProfile != "" && !profileName.MatchString(c.ACMEProfile) {
		return fmt.Errorf("--acme-profile %q: want a profile name the CA's directory lists (letters, digits, - and _), e.g. classic", c.ACMEProfile)
	}
	switch c.DNSProvider {
	case "":
	case "rfc2136":
		if c.RFC2136Server == "" || c.RFC2136Key == "" || c.RFC2136Secret == "" {
			return fmt.Errorf("STACKHUB_DNS_PROVIDER=rfc2136 needs RFC2136_NAMESERVER, RFC2136_TSIG_KEY and RFC2136_TSIG_SECRET")
		}
	case "cloudflare":
		if c.CloudflareToken == "" {
			return fmt.Errorf("STACKHUB_DNS_PROVIDER=cloudflare needs CLOUDFLARE_DNS_API_TOKEN")
		}
	default:
		return fmt.Errorf("STACKHUB_DNS_PROVIDER %q: want rfc2136 or cloudflare", c.DNSProvider)
	}
	return nil
}

// DefaultStoreOrder is the stores an install prefers by default: StackHub's own format first, then by how
// complete the stores' templates are.
const DefaultStoreOrder = "websoft9,casaos,runtipi,umbrel,cosmos,portainer"

var storeNameRe = regexp.MustCompile(`^[a-z][a-z0-9-]{0,30}$`)

// parseStoreOrder reads --store-order: store names separated by commas, each once.
func parseStoreOrder(s string) ([]string, error) {
	var out []string
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if !storeNameRe.MatchString(name) || slices.Contains(out, name) {
			return nil, fmt.Errorf("--store-order %q: want store names such as %s, each once", s, DefaultStoreOrder)
		}
		out = append(out, name)
	}
	return out, nil
}

var prefixRe = regexp.MustCompile(`^[a-z][a-z0-9-]{0,19}$`)

// firstAddress is the first non-loopback IPv4 address of the host, or localhost.
func firstAddress() string {
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil {
				return ipn.IP.String()
			}
		}
	}
	return "localhost"
}

// WeakToken reports an admin token that is short or commonly used.
func WeakToken(t string) bool {
	switch strings.ToLower(t) {
	case "dogetok", "admin", "password", "changeme", "secret", "token", "stackhub", "websoft9":
		return true
	}
	return len(t) < 16
}

// validateEdge checks the edge's settings (docs/edge.md §1) and fills TrustedProxies and PublishIP.
func (c *Config) validateEdge() error {
	for name, addr := range map[string]string{"--edge-http": c.EdgeHTTP, "--edge-https": c.EdgeHTTPS} {
		if addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("%s %q: want host:port or :port", name, addr)
		}
	}
	switch c.Publish {
	case "all", "":
		c.PublishIP = ""
	case "loopback":
		c.PublishIP = "127.0.0.1"
	default:
		return fmt.Errorf("--publish %q: want all or loopback", c.Publish)
	}
	c.Domain = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(c.Domain), "."))
	if c.Domain != "" && (strings.ContainsAny(c.Domain, "/: ") || strings.HasPrefix(c.Domain, "*")) {
		return fmt.Errorf("--domain %q: want a host name such as stackhub.example.com", c.Domain)
	}
	c.TrustedProxies = nil
	for _, s := range strings.Split(c.TrustedProxiesS, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return fmt.Errorf("--trusted-proxies %q: want CIDRs such as 10.0.0.0/8, comma-separated", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		c.TrustedProxies = append(c.TrustedProxies, p.Masked())
	}
	return nil
}
