package catalog

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// Each kind of Umbrel hook, on the fixtures of testdata/umbrel-hooks: what the rule makes of it, or the refusal.
func TestUmbrelHookRules(t *testing.T) {
	got, refused := readStoreSample(t, filepath.Join("testdata", "umbrel-hooks"), "umbrel")
	for key, want := range map[string]string{
		"hookexec":  `hooks/pre-start line 4 runs "docker exec hookexec_web_1 migrate --all"`,
		"hookmaybe": "writes ./data/net.env from IFACE, set under a condition StackHub cannot decide",
		"hookloose": "into data/settings.json, which is neither an env_file nor a file the compose file binds",
	} {
		if !has(refused[key], want) {
			t.Errorf("%s: refusal %q, want one naming %q", key, refused[key], want)
		}
	}
	if len(got) != 3 {
		t.Fatalf("accepted %d apps, want hookconf, hookbound, hooktor; refused %v", len(got), refused)
	}

	// Files a hook writes or edits are the stack's files as the hook leaves them on a fresh install; the migration
	// guarded by an older install's data does not run; the env_file's values refer to .env, which holds the
	// server's address and a generated secret of the hook's variable name.
	c := got["hookconf"]
	conf := c.Stack.Files["data/conf/app.conf"]
	if conf != "# written by the hook\ncache_dir = /data/cache\ngreeting = $not_a_variable\n" {
		t.Errorf("hookconf: the written config = %q", conf)
	}
	if ini := c.Stack.Files["data/app.ini"]; ini != "[server]\nlisten = 8080\n" {
		t.Errorf("hookconf: the edited app.ini = %q", ini)
	}
	if env := c.Stack.Files["settings.env"]; env != "PUBLIC_URL=\"http://${DEVICE_DOMAIN_NAME}:3500\"\nSESSION_KEY=\"${SESSION_KEY}\"\n" {
		t.Errorf("hookconf: settings.env = %q", env)
	}
	i := slices.IndexFunc(c.Stack.Secrets, func(s Secret) bool { return s.Name == "SESSION_KEY" })
	if i < 0 || c.Stack.Secrets[i].Length != 16 || c.Stack.Secrets[i].Encoding != "hex" {
		t.Errorf("hookconf: secrets %+v, want SESSION_KEY of 16 random bytes in hex", c.Stack.Secrets)
	}
	wantEnv(t, c, "SESSION_KEY=", "DEVICE_DOMAIN_NAME=${W9_ADDRESS}")
	if _, ok := c.Stack.Files["data/store"]; ok {
		t.Error("hookconf: the migration ran")
	}

	// An unquoted here-document into a file bound alone: a config whose content Compose interpolates, the
	// hook's literal $ kept literal.
	b := got["hookbound"]
	wantCompose(t, b, "target: /etc/hookbound/config.yml", "password: ${APP_PASSWORD}",
		"url: http://${DEVICE_DOMAIN_NAME}:3500", "price: 5$$")
	if _, ok := b.Stack.Files["config.yml"]; ok || has(b.Stack.Compose, "./config.yml") {
		t.Errorf("hookbound: config.yml is still a bound file: %v\n%s", b.Stack.Files, b.Stack.Compose)
	}

	// An early start to wait for Tor's address: Compose starts every service; Umbrel's Tor folder is the install's.
	tr := got["hooktor"]
	wantEnv(t, tr, "TOR_DATA_DIR=./tor/data")
	if !slices.ContainsFunc(tr.Notes, func(n string) bool { return strings.Contains(n, "starts tor before the other services") }) {
		t.Errorf("hooktor notes = %v", tr.Notes)
	}
}

// sed's s and d commands as hooks write them, in basic and extended syntax.
func TestSedApply(t *testing.T) {
	for _, c := range []struct {
		cmd, in, want string
		ere           bool
	}{
		{`s/a+b/X/`, "a+b aab\n", "X aab\n", false},
		{`s/a+b/X/g`, "a+b aab\n", "a+b X\n", true},
		{`s|^K= *changeme$|K="v"|`, "K=changeme\nL=changeme\n", "K=\"v\"\nL=changeme\n", true},
		{`\|^http_dir /www$|d`, "a\nhttp_dir /www\nb\n", "a\nb\n", false},
		{`/^#/d`, "#x\ny\n", "y\n", false},
		{`s/\(x\)y/\1&/`, "xy\n", "xxy\n", false},
	} {
		got, err := sedApply(c.cmd, c.in, c.ere)
		if err != nil || got != c.want {
			t.Errorf("sed %q on %q = %q, %v; want %q", c.cmd, c.in, got, err, c.want)
		}
	}
	if _, err := sedApply("y/ab/cd/", "ab", false); err == nil {
		t.Error("sed y was applied; only s and d are read")
	}
}

// A command that does more than read is refused wherever the hook runs it: as a statement, inside $(...), in a
// condition, behind `command`, or through find or awk; readers and folder commands are not.
func TestUmbrelHookCommands(t *testing.T) {
	for script, want := range map[string]string{
		`v=$(docker inspect x)`:                           `runs "docker inspect x"`,
		`if docker ps >/dev/null; then echo; fi`:          `runs "docker ps`,
		`command docker ps`:                               `runs "command docker ps"`,
		`k=$(python3 -c 'import os; os.remove("x")')`:     `runs "python3 -c`,
		`find ./data -type f -exec sh -c "x" \;`:          `runs "find ./data -type f -exec sh -c`,
		`awk '{ system("reboot") }' ./data/x`:             `runs "awk`,
		`sed -i.bak 's/a/b/' "${UMBREL_ROOT}/x"`:          "which is not a file of the app",
		`n=$(cat ./data/x | wc -l); mkdir -p ./data/y`:    "",
		`find ./data -type d -exec chmod u+rwx {} +`:      "",
		`v=$(awk '$1 > 5 { print $2 }' ./data/x); echo`:   "",
		`command -v ip >/dev/null && echo has ip || true`: "",
	} {
		fsys := fstest.MapFS{"app/hooks/pre-start": {Data: []byte("#!/usr/bin/env bash\n" + script + "\n")}}
		_, err := umbrelHookEffects(fsys, "app", "app", map[string]string{}, map[string]bool{})
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: refused: %v", script, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%s: %v, want a refusal naming %q", script, err, want)
		}
	}
}
