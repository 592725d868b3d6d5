// Package builtin is StackHub's own template library: templates written for StackHub in the Websoft9 layout
// (apps/<key>/ with docker-compose.yml, .env, variables.json, README.md and src/ files), embedded in the binary
// so a fresh server has installable apps before any library is imported.
//
// The apps, each on its upstream image pinned to a tag (the first version listed is the default):
//
//   - adminer: Adminer, a database management page (adminer)
//   - ghost: Ghost, publishing and newsletters (ghost, with mysql)
//   - gitea: Gitea, a Git service with SQLite, over HTTP and SSH (gitea/gitea)
//   - grafana: Grafana, dashboards and alerting (grafana/grafana)
//   - mariadb: MariaDB, a relational database (mariadb)
//   - n8n: n8n, workflow automation (n8nio/n8n)
//   - nextcloud: Nextcloud, file sync and share (nextcloud, with mariadb)
//   - nginx: nginx, a static website server (nginx)
//   - postgresql: PostgreSQL, a relational database (postgres)
//   - prometheus: Prometheus, metrics monitoring (prom/prometheus)
//   - redis: Redis, a key-value store (redis)
//   - uptime-kuma: Uptime Kuma, uptime monitoring and status pages (louislam/uptime-kuma)
//   - vaultwarden: Vaultwarden, a Bitwarden-compatible password manager (vaultwarden/server)
//   - wordpress: WordPress, a website platform (wordpress, with mariadb)
//
// Every template follows the catalog conventions: the main container is named ${W9_ID} and the others
// ${W9_ID}-<service>, host ports come only from W9_*_PORT_SET variables, the apps share the external network
// ${W9_NETWORK}, secrets are the engine's W9_POWER_PASSWORD (shown to the administrator) and W9_RCODE (internal),
// data lives in named volumes, databases have healthchecks, and no template needs access to the host.
package builtin

import (
	"embed"
	"fmt"
	"strings"

	"github.com/stackhub/stackhub/internal/catalog"
)

// library holds apps/<key>/...; "all:" keeps the .env files, which embed leaves out by default.
//
//go:embed all:apps
var library embed.FS

// Templates reads every built-in template. They are all released and valid for stacks without host access; one
// that is not is a bug in this package, reported as an error naming each such template and why.
func Templates() ([]catalog.Template, error) {
	ts, refused, err := catalog.ReadWebsoft9FS(library, false)
	if err != nil {
		return nil, fmt.Errorf("built-in templates: %w", err)
	}
	var bad []string
	for _, r := range refused {
		bad = append(bad, r.Key+": "+r.Reason)
	}
	for _, t := range ts {
		if len(t.Stack.HostAccess) > 0 {
			bad = append(bad, t.Key+": needs access to the host ("+strings.Join(t.Stack.HostAccess, "; ")+")")
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("built-in templates are invalid: %s", strings.Join(bad, "; "))
	}
	return ts, nil
}
