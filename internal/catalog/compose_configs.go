package catalog

import (
	"path"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// checkConfigs checks the top-level configs, which the engine mounts read-only into the services using them (as
// Compose does outside Swarm): content and environment configs are fine; a file config must be one of the
// stack's files, or an absolute host path, which is returned as a host-access reason; external configs live in
// a Swarm, which StackHub does not run.
//
// A config no enabled service uses is never read, by Compose or StackHub, so it is not checked.
func checkConfigs(c *composeDoc, proj *types.Project, files map[string]string, p *problems) []string {
	used := map[string]bool{}
	for _, s := range proj.Services {
		for _, ref := range s.Configs {
			used[ref.Source] = true
		}
	}
	var access []string
	_, defs := get(c.root, "configs")
	for _, kv := range pairs(defs) {
		name, line := kv.Key.Value, kv.Key.Line
		cfg, ok := proj.Configs[name]
		if !ok || !used[name] {
			continue
		}
		switch {
		case bool(cfg.External):
			p.add(ComposeFile, line, "config %s is external, which only a Swarm provides; give it a file or content", name)
		case cfg.File == "":
		case path.IsAbs(cfg.File):
			access = append(access, "config "+name+" reads the host file "+cfg.File)
		default:
			clean := path.Clean(strings.ReplaceAll(cfg.File, `\`, "/"))
			switch {
			case clean == ".." || strings.HasPrefix(clean, "../"):
				p.add(ComposeFile, line, "config %s reads %s, which leaves the project directory; keep it inside", name, cfg.File)
			case !fileOrDir(clean, files):
				p.add(ComposeFile, line, "config %s reads %s, which is not in the template's files; add it or fix the path",
					name, cfg.File)
			}
		}
	}
	return access
}
