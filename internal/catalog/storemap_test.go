package catalog

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestIsHardCodedCredential(t *testing.T) {
	for _, c := range []struct {
		name, value string
		want        bool
	}{
		{"POSTGRES_PASSWORD", "casaos", true},
		{"DB_PASS", "s3cret!", true},
		{"ADMIN_PWD", "admin123", true},
		{"JWT_SECRET", "changeme", true},
		{"JWTSECRET", "abcdefgh", true},
		{"APP_KEY", "SomeRandomStringOf32CharsExactly", true},
		{"api-token", "0123456789", true},
		{"PASSWORD_SALT", "pepper-pepper", true},
		{"MYSQL_ROOT_PASSWORD", "${DB_ROOT}", false},         // a reference, not a literal
		{"POSTGRES_PASSWORD_FILE", "/run/secrets/pg", false}, // names a file
		{"SSL_KEY", "/certs/key.pem", false},                 // a path
		{"PUBLIC_KEY", "ssh-ed25519 AAAA", false},            // public
		{"PASSWORD_LOGIN", "true", false},                    // a switch, and the name's last word is not a credential
		{"DISABLE_PASSWORD", "true", false},
		{"SECRET_KEY_LENGTH", "64", false},
		{"DB_PASSWORD", "", false},
		{"DB_PASSWORD", "abc", false},   // too short to be one (a placeholder such as "no")
		{"DB_PASSWORD", "false", false}, // a switch value
		{"REDIS_URL", "redis://:pw@redis", false},
		{"MONKEY", "banana42", false}, // KEY inside a word is not the word KEY
		{"POSTGRES_USER", "casaos", false},
		{"OIDC_CLIENT_ID", "abcdefgh", false},
		{"USER_PASSWORD", "root", true},                               // the user's password
		{"AUTH_SECRET", "changeme", true},                             // an auth secret
		{"LOGIN_PASSWORD", "admin1", true},                            // a login password
		{"OPENAI_API_KEY", "user_provided", false},                    // the user gives a key of their own
		{"SECRET_KEY_BASE", "a7523c3d0ae56415046ad8abae168d71", true}, // a credential word, a generated-looking value
		{"SECRET_KEY_BASE", "rails", false},                           // ... but not any value
		{"ALLOWED_APIKEY_USERS", "hello@example.com", false},
		{"MAX_TOKENS_LENGTH", "1000000000000000000", false},
		{"NEKO_PASSWORD_ADMIN", "bigbear", true}, // a trailing role: the admin's password
		{"PAPERLESS_DBPASS", "c6e74adb-3fce", true},
		{"ADMIN", "administrator", false}, // a role alone is no credential
		{"AUTH_BYPASS", "true", false},
	} {
		if got := IsHardCodedCredential(c.name, c.value); got != c.want {
			t.Errorf("IsHardCodedCredential(%q, %q) = %v, want %v", c.name, c.value, got, c.want)
		}
	}
}

func TestSecretFor(t *testing.T) {
	for _, c := range []struct {
		literal string
		want    Secret
	}{
		{"casaos", Secret{Name: "X", Length: 16}},
		{"SomeRandomStringOf32CharsExactly", Secret{Name: "X", Length: 32}},
		{"0123456789abcdef0123456789abcdef", Secret{Name: "X", Length: 16, Encoding: "hex"}},
	} {
		if got := secretFor("X", c.literal); got != c.want {
			t.Errorf("secretFor(%q) = %+v, want %+v", c.literal, got, c.want)
		}
	}
}

func TestCasaOSSourceMapping(t *testing.T) {
	one := &casaosApp{appDataRoots: map[string]bool{"$AppID": true}}
	two := &casaosApp{appDataRoots: map[string]bool{"app": true, "app-db": true}}
	for _, c := range []struct {
		a        *casaosApp
		src, out string
	}{
		{one, "/DATA/AppData/$AppID/config", "./data/config"},
		{one, "/DATA/AppData/$AppID", "./data"},
		{one, "/DATA/AppData/$AppID/../../etc", "${STACKHUB_SHARED_DIR}/etc"}, // cleaned first: stays under /DATA
		{two, "/DATA/AppData/app/config", "./data/app/config"},
		{two, "/DATA/AppData/app-db", "./data/app-db"},
		{one, "/DATA/Media/TV Shows", "${STACKHUB_SHARED_DIR}/Media/TV Shows"},
		{one, "/DATA/Downloads", "${STACKHUB_SHARED_DIR}/Downloads"},
		{one, "/DATA", "${STACKHUB_SHARED_DIR}"},
		{one, "/var/run/docker.sock", "/var/run/docker.sock"}, // host access stays
		{one, "/DATABASE", "/DATABASE"},                       // only /DATA itself and below
	} {
		if got := c.a.mapSource(c.src); got != c.out {
			t.Errorf("mapSource(%q) = %q, want %q", c.src, got, c.out)
		}
	}
}

func TestSettingVarAvoidsPortSuffix(t *testing.T) {
	for in, want := range map[string]string{"SMTP_PORT": "SMTP_PORT_VALUE_SET", "POSTGRES_DB": "POSTGRES_DB_SET"} {
		if got := settingVar(in); got != want {
			t.Errorf("settingVar(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParsePortAndImage(t *testing.T) {
	ip, host, ctr, proto := parsePort("${NETWORK_INTERFACE:-0.0.0.0}:53:53/udp")
	if ip != "${NETWORK_INTERFACE:-0.0.0.0}" || host != "53" || ctr != "53" || proto != "udp" {
		t.Errorf("parsePort: %q %q %q %q", ip, host, ctr, proto)
	}
	for _, c := range []struct{ ref, fallback, image, version string }{
		{"postgres:17.4", "", "postgres:${W9_VERSION}", "17.4"},
		{"localhost:5000/app", "1.2", "localhost:5000/app", "1.2"},
		{"ghcr.io/x/y@sha256:abc", "v3", "ghcr.io/x/y@sha256:abc", "v3"},
		{"nginx", "not a tag!", "nginx", "latest"},
	} {
		if img, v := versionedImage(c.ref, c.fallback); img != c.image || v != c.version {
			t.Errorf("versionedImage(%q, %q) = %q, %q; want %q, %q", c.ref, c.fallback, img, v, c.image, c.version)
		}
	}
}

func TestCasaOSRequiredCredentials(t *testing.T) {
	a := &casaosApp{env: newEnvBuilder(), literals: map[string]string{}}
	got := a.requiredCredentials("T: ${GATEWAY_TOKEN:?make one with openssl rand -hex 32}\nU: ${ADMIN_USER:?give a user}\n")
	if want := "T: ${GATEWAY_TOKEN}\nU: ${ADMIN_USER:?give a user}\n"; got != want {
		t.Errorf("compose %q, want %q (only the credential becomes a generated secret)", got, want)
	}
	if len(a.secrets) != 1 || a.secrets[0].Name != "GATEWAY_TOKEN" || !a.env.has("GATEWAY_TOKEN") {
		t.Errorf("secrets %+v env %q", a.secrets, a.env.String())
	}
}

func TestCasaOSSharedLiteralIsOneSecret(t *testing.T) {
	fsys := fstest.MapFS{"Apps/Demo/docker-compose.yml": {Data: []byte(`name: demo
services:
  app:
    image: demo/app:1.0
    environment:
      DATABASE_URL: postgres://demo:hunter22@db/demo
      LOGIN_USER: hunter22
    ports:
      - "8080:80"
  db:
    image: postgres:16
    environment:
      POSTGRES_PASSWORD: hunter22
x-casaos:
  main: app
  port_map: "8080"
  title:
    en_us: Demo
`)}}
	ts, refused, err := casaosImporter{}.Read(fsys, ReadOptions{})
	if err != nil || len(refused) > 0 || len(ts) != 1 {
		t.Fatalf("%v %+v %d", err, refused, len(ts))
	}
	c := ts[0].Stack.Compose
	for _, want := range []string{"POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}", "postgres://demo:${POSTGRES_PASSWORD}@db/demo",
		"LOGIN_USER: hunter22", "${W9_HTTP_PORT_SET}:80/tcp", "image: demo/app:${W9_VERSION}"} {
		if !strings.Contains(c, want) {
			t.Errorf("compose lacks %q:\n%s", want, c)
		}
	}
	if ts[0].Key != "demo" || ts[0].Name != "Demo" || len(ts[0].Stack.Secrets) != 1 {
		t.Errorf("key %q name %q secrets %+v", ts[0].Key, ts[0].Name, ts[0].Stack.Secrets)
	}
}
