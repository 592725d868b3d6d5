// Package catalog holds installable stacks: a Compose template, its .env defaults and extra files, how they are
// validated before anything is stored, and the reader for the Websoft9 docker-library layout.
//
// A stack is validated once, when it is published or imported (Validate). The engine later renders it with
// RenderEnv, replacing the engine's and the user's values in place in the .env text, so that `docker compose`
// run by hand in the rendered directory sees exactly what StackHub sees.
package catalog

import (
	"fmt"
	"strings"

	"github.com/compose-spec/compose-go/v2/dotenv"
)

// Stack is an installable template: stored as JSON on a hub update.
type Stack struct {
	Compose      string       `json:"compose"`                // docker-compose.yml text with ${VAR}/$VAR references
	Env          string       `json:"env"`                    // .env text: defaults for every variable
	Files        Files        `json:"files,omitempty"`        // extra files by relative path, e.g. "src/init.sh"
	Requirements Requirements `json:"requirements,omitempty"` // resources checked before install
	HostAccess   []string     `json:"host_access,omitempty"`  // set by Validate: why it needs host power; empty = none
	Warnings     []string     `json:"warnings,omitempty"`     // set by Validate: what Compose accepts but reads oddly
	FixedPorts   []string     `json:"fixed_ports,omitempty"`  // set by Validate: host ports no setting books
	Secrets      []Secret     `json:"secrets,omitempty"`      // variables the engine fills with random values
}

// Secret is a .env variable the engine fills with a fresh random value (crypto/rand) at install and keeps across
// upgrades, as it does W9_POWER_PASSWORD: how other stores' generated passwords (Runtipi's random fields,
// Cosmos's {Passwords.N}, Umbrel's APP_PASSWORD) and the credentials CasaOS hard-codes become per-install.
type Secret struct {
	Name string `json:"name"`
	// Length is the value's length in characters, or for hex and base64 the number of random bytes encoded;
	// 0 means DefaultSecretLength.
	Length int `json:"length,omitempty"`
	// Encoding: "" letters and digits, "hex" lowercase hex of the bytes, "base64" their standard base64.
	Encoding string `json:"encoding,omitempty"`
}

// DefaultSecretLength is a Secret's length when it names none.
const DefaultSecretLength = 32

// Requirements are the resources a stack needs: CPU in cores, Memory and Disk in GB.
type Requirements struct {
	CPU    float64 `json:"cpu"`
	Memory float64 `json:"memory"`
	Disk   float64 `json:"disk"`
}

// Engine variable names (see the catalog contract, "Variable naming").
const (
	VarID            = "W9_ID"
	VarAppName       = "W9_APP_NAME"
	VarVersion       = "W9_VERSION"
	VarDist          = "W9_DIST"
	VarNetwork       = "W9_NETWORK"
	VarPowerPassword = "W9_POWER_PASSWORD"
	VarRCode         = "W9_RCODE"
	VarURL           = "W9_URL"
	// VarAddress is the server's public address alone (no port), for templates that build their own URLs
	// (Umbrel's DEVICE_DOMAIN_NAME).
	VarAddress = "W9_ADDRESS"
)

// PortSuffix ends the name of every variable holding a published host port; the engine books those ports.
const PortSuffix = "_PORT_SET"

// settingSuffix ends the name of every user-editable variable.
const settingSuffix = "_SET"

// EngineVars are the variables the engine provides (W9_ID, W9_APP_NAME, W9_VERSION, W9_DIST, W9_NETWORK,
// W9_POWER_PASSWORD, W9_RCODE, W9_URL, W9_ADDRESS). Every W9_*_PORT_SET variable a template defines in its .env is also
// provided (booked) by the engine; those are per template, so they are not in this list (see Settings).
func EngineVars() []string {
	return []string{VarID, VarAppName, VarVersion, VarDist, VarNetwork, VarPowerPassword, VarRCode, VarURL, VarAddress}
}

// isEngineVar reports whether name is one of EngineVars.
func isEngineVar(name string) bool {
	for _, v := range EngineVars() {
		if v == name {
			return true
		}
	}
	return false
}

// Setting is a user-editable variable: every *_SET variable in Env (ports are *_PORT_SET) plus W9_URL when the
// template defines it. Default is the value as `docker compose` reads it from the template's .env.
type Setting struct {
	Name    string `json:"name"`
	Default string `json:"default"`
	Port    bool   `json:"port"`
}

// Settings lists the stack's user-editable variables in .env order.
func (s *Stack) Settings() ([]Setting, error) {
	entries, err := scanEnv(s.Env)
	if err != nil {
		return nil, fmt.Errorf("settings: %w", err)
	}
	resolved, err := resolveEnv(s.Env)
	if err != nil {
		return nil, fmt.Errorf("settings: %w", err)
	}
	var out []Setting
	seen := map[string]bool{}
	for _, e := range entries {
		if seen[e.Key] || !isSettingName(e.Key) {
			continue
		}
		seen[e.Key] = true
		out = append(out, Setting{Name: e.Key, Default: resolved[e.Key], Port: strings.HasSuffix(e.Key, PortSuffix)})
	}
	return out, nil
}

// isSettingName reports whether a .env key is shown to users as a setting.
func isSettingName(key string) bool {
	return key == VarURL || strings.HasSuffix(key, settingSuffix)
}

// resolveEnv reads env text the way Compose does: quotes removed, escapes and $VAR references expanded. Nothing
// is looked up outside the text, so a host's environment cannot leak in.
func resolveEnv(text string) (map[string]string, error) {
	m, err := dotenv.ParseWithLookup(strings.NewReader(text), func(string) (string, bool) { return "", false })
	if err != nil {
		return nil, fmt.Errorf("read .env: %w", err)
	}
	return m, nil
}
