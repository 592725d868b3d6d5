package testutil

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackhub/stackhub/client"
	"github.com/stackhub/stackhub/internal/catalog"
	"github.com/stackhub/stackhub/internal/testutil/testports"
)

// Library writes test templates in the Websoft9 docker-library layout: DIR/apps/<key>/ with docker-compose.yml,
// .env and variables.json. Every template's app is the testapp image (see dockertest), on a network of its own
// so parallel tests never share one.
type Library struct {
	Dir      string
	Network  string
	BasePort int // templates' default web port; installs step up from it
}

// NewLibrary makes an empty library in a temp dir, with a default port range of its own (testports.Block): no
// other test server books from it and no outgoing connection takes a port of it.
func NewLibrary(t testing.TB) *Library {
	t.Helper()
	return &Library{Dir: t.TempDir(), Network: "shnet-" + randomHex(4), BasePort: testports.Block(t)}
}

// Add writes one template. compose may use ${NET} for the network block's name variable; env gets the usual
// W9_* lines prepended.
func (l *Library) Add(t testing.TB, key, compose, env string, versions ...string) {
	t.Helper()
	if len(versions) == 0 {
		versions = []string{"v1"}
	}
	dir := filepath.Join(l.Dir, "apps", key)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("W9_ID=%s\nW9_VERSION=%s\nW9_DIST=community\nW9_NETWORK=%s\nW9_HTTP_PORT_SET=%d\nW9_POWER_PASSWORD=changeme\n",
		key, versions[0], l.Network, l.BasePort)
	vars := fmt.Sprintf(`{"name": %q, "trademark": "Test %s", "release": true,
 "edition": [{"dist": "community", "version": ["%s"]}],
 "requirements": {"cpu": "0", "memory": "0", "disk": "0", "url": ""}}`, key, key, strings.Join(versions, `", "`))
	for name, text := range map[string]string{"docker-compose.yml": compose, ".env": base + env, "variables.json": vars,
		"README.md": "# Test " + key + "\n\nA tiny app for StackHub's tests.\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// AddDir copies the template folder src (docker-compose.yml, .env, variables.json, src/...) as key, with the
// library's W9_NETWORK and W9_HTTP_PORT_SET put first in its .env, so parallel tests never share a network.
func (l *Library) AddDir(t testing.TB, key, src string) {
	t.Helper()
	dst := filepath.Join(l.Dir, "apps", key)
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if rel == ".env" {
			b = append([]byte(fmt.Sprintf("W9_NETWORK=%s\nW9_HTTP_PORT_SET=%d\n", l.Network, l.BasePort)), b...)
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Import reads the library with the real importer and sends every template to the server; it fails the test on
// any refusal.
func (l *Library) Import(t testing.TB, url string) {
	t.Helper()
	ts, refused, err := catalog.ReadWebsoft9(l.Dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(refused) > 0 {
		t.Fatalf("test templates refused: %+v", refused)
	}
	c := client.New(url, AdminToken)
	for _, tpl := range ts {
		if _, err := c.ImportTemplate(context.Background(), tpl); err != nil {
			t.Fatalf("import %s: %v", tpl.Key, err)
		}
	}
}

// network is the compose block every test template ends with.
const network = `
networks:
  default:
    name: $W9_NETWORK
    external: true
`

// WebCompose is a web app: the testapp with a healthcheck and a data volume.
const WebCompose = `services:
  web:
    image: stackhub-test/web:$W9_VERSION
    container_name: $W9_ID
    restart: unless-stopped
    env_file: .env
    environment:
      APP_NAME: web
      VERSION: $W9_VERSION
      DATA_DIR: /data
      READY_AFTER: ${READY_AFTER}
    ports:
      - "${W9_HTTP_PORT_SET}:8080"
    volumes:
      - data:/data
    healthcheck:
      test: ["CMD", "/testapp", "check", "http://127.0.0.1:8080/health"]
      interval: 1s
      timeout: 2s
      retries: 600
volumes:
  data:
` + network

// WebDBCompose is a web app with a database-like second service the web app waits for until it is healthy.
const WebDBCompose = `services:
  web:
    image: stackhub-test/web:v1
    container_name: $W9_ID
    restart: unless-stopped
    environment:
      APP_NAME: webdb
      DEPENDS_URL: http://$W9_ID-db:8080/
    ports:
      - "${W9_HTTP_PORT_SET}:8080"
    depends_on:
      db:
        condition: service_healthy
  db:
    image: stackhub-test/web:v1
    container_name: $W9_ID-db
    restart: unless-stopped
    environment:
      APP_NAME: db
      READY_AFTER: "2"
      DATA_DIR: /var/lib/db
      PASSWORD: $W9_POWER_PASSWORD
    volumes:
      - dbdata:/var/lib/db
    healthcheck:
      test: ["CMD", "/testapp", "check", "http://127.0.0.1:8080/health"]
      interval: 1s
      timeout: 2s
      retries: 30
volumes:
  dbdata:
` + network

// CrashCompose is an app whose container exits with an error at start.
const CrashCompose = `services:
  app:
    image: stackhub-test/web:v1
    container_name: $W9_ID
    restart: "no"
    command: ["crash"]
    environment:
      EXIT_CODE: "3"
    ports:
      - "${W9_HTTP_PORT_SET}:8080"
` + network

// MissingImageCompose is an app whose image exists nowhere.
const MissingImageCompose = `services:
  app:
    image: stackhub-test/missing:nope
    container_name: $W9_ID
    ports:
      - "${W9_HTTP_PORT_SET}:8080"
` + network
