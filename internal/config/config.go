// Package config builds StackHub's settings once, in main: defaults, then environment variables (STACKHUB_* and the
// original names DOGETOK, WEBHOOKS, DATABASE_URL), then command-line flags.
package config

import (
	"fmt"
	"net"
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
	// WebhookSecret signs webhook bodies (HMAC-SHA256); environment only, so it never shows in a process list.
	WebhookSecret   string `koanf:"webhook-secret"`
	WebhookTimeoutS string `koanf:"webhook-timeout"`
	WebhookTriesS   string `koanf:"webhook-attempts"`
	MaxStackS       string `koanf:"max-stack-size"`
	StoreOrderS     string `koanf:"store-order"`

	Hooks           []webhook.Hook `koanf:"-"`
	HealthTimeout   time.Duration  `koanf:"-"`
	WebhookTimeout  time.Duration  `koanf:"-"`
	WebhookAttempts int            `koanf:"-"`
	MaxStackSize    int            `koanf:"-"` // bytes a user's published stack may hold
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
	"STACKHUB_WEBHOOK_SECRET":   "webhook-secret",
	"STACKHUB_WEBHOOK_TIMEOUT":  "webhook-timeout",
	"STACKHUB_WEBHOOK_ATTEMPTS": "webhook-attempts",
	"STACKHUB_MAX_STACK_SIZE":   "max-stack-size",
	"STACKHUB_STORE_ORDER":      "store-order",
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
	fs.String("health-timeout", "5m", "how long an install waits for the app to be healthy (env STACKHUB_HEALTH_TIMEOUT)")
	fs.String("webhook-timeout", "10s", "how long one webhook attempt may take (env STACKHUB_WEBHOOK_TIMEOUT)")
	fs.String("webhook-attempts", "15", "attempts before a webhook delivery fails for good (env STACKHUB_WEBHOOK_ATTEMPTS)")
	fs.String("store-order", DefaultStoreOrder, "the stores whose version an install takes when it names none, most preferred first; stores not listed come after, by name (env STACKHUB_STORE_ORDER)")
	fs.String("max-stack-size", strconv.Itoa(catalog.DefaultMaxSize), "bytes a stack that an ordinary user publishes may hold, compose, .env and files together; the administrator's imports may hold 64 MiB (env STACKHUB_MAX_STACK_SIZE)")
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
