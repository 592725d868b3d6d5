package kit

import (
	"fmt"
	"os"
	"path/filepath"
)

// Template keys (catalog package names) of the two apps, one per image.
const (
	KeyPlain  = "benchweb"
	KeyHealth = "benchwebhc"
)

// compose is the one service of both templates. Kept to what `docker run` is given in the baseline: the same
// image, restart policy, environment, network (an existing user-defined bridge, W9_NETWORK) and one port
// published on loopback. No volume, no env_file, no healthcheck of its own (ImageHealth brings one).
const compose = `# StackHub host benchmark app: matches
#   docker run -d --network $W9_NETWORK --restart unless-stopped -p 127.0.0.1:PORT:8080 -e APP_NAME=web IMAGE
services:
  web:
    image: %s
    container_name: $W9_ID
    restart: unless-stopped
    environment:
      APP_NAME: web
    ports:
      - "127.0.0.1:${W9_HTTP_PORT_SET}:8080"

networks:
  default:
    name: $W9_NETWORK
    external: true
`

// WriteLibrary writes a Websoft9 docker-library at dir (dir/apps/<key>/) with the two benchmark templates.
// network is W9_NETWORK; basePort the default web port, from which StackHub books the first free one.
func WriteLibrary(dir, network string, basePort int) error {
	for key, image := range map[string]string{KeyPlain: ImagePlain, KeyHealth: ImageHealth} {
		app := filepath.Join(dir, "apps", key)
		if err := os.MkdirAll(app, 0o755); err != nil {
			return err
		}
		env := fmt.Sprintf("W9_ID=%s\nW9_VERSION=v1\nW9_DIST=community\nW9_NETWORK=%s\nW9_HTTP_PORT_SET=%d\nW9_POWER_PASSWORD=changeme\n",
			key, network, basePort)
		vars := fmt.Sprintf(`{"name": %q, "trademark": "Bench %s", "release": true,
 "edition": [{"dist": "community", "version": ["v1"]}],
 "requirements": {"cpu": "0", "memory": "0", "disk": "0", "url": ""}}`, key, key)
		for name, text := range map[string]string{
			"docker-compose.yml": fmt.Sprintf(compose, image),
			".env":               env,
			"variables.json":     vars,
			"README.md":          "# Bench " + key + "\n\nThe static test app, for StackHub's host benchmarks.\n",
		} {
			if err := os.WriteFile(filepath.Join(app, name), []byte(text), 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}
