package catalog

import (
	"context"
	"regexp"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/template"
	"github.com/compose-spec/compose-go/v2/types"
)

// Where and as what a stack is loaded for validation: never on disk, so nothing is read or resolved there.
const (
	validateDir     = "/stack"
	validateProject = "stack"
)

// placeholders stand in for the engine's variables that a .env does not define, with values shaped like the
// real ones so the load sees valid names.
var placeholders = map[string]string{
	VarID:            "app",
	VarAppName:       "app",
	VarVersion:       "latest",
	VarDist:          "community",
	VarNetwork:       "stackhub",
	VarPowerPassword: "Placeholder0!",
	VarRCode:         "placeholder0",
	VarURL:           "localhost",
}

// environment is what the compose file is interpolated with during validation: the .env values plus
// placeholders for engine variables it leaves out.
func (e *envInfo) environment() map[string]string {
	m := make(map[string]string, len(e.values)+len(placeholders))
	for k, v := range placeholders {
		m[k] = v
	}
	for k, v := range e.values {
		m[k] = v
	}
	return m
}

// lookup is the interpolation mapping of environment.
func (e *envInfo) lookup() func(string) (string, bool) {
	m := e.environment()
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// loadProject loads the compose text with compose-go from memory, as the engine will load the rendered
// project, but without reading env_file, label_file, includes or extends from disk.
func loadProject(text string, env *envInfo, c *composeDoc) (*types.Project, *ValidationError) {
	details := types.ConfigDetails{
		WorkingDir:  validateDir,
		ConfigFiles: []types.ConfigFile{{Filename: ComposeFile, Content: []byte(text)}},
		Environment: env.environment(),
	}
	p, err := loader.LoadWithContext(context.Background(), details, func(o *loader.Options) {
		o.SetProjectName(validateProject, true)
		o.ResolvePaths = false
		o.SkipResolveEnvironment = true
		o.SkipResolveLabels = true
		o.SkipInclude = true
		o.SkipExtends = true
		// Missing variables were judged by checkVariables (those of disabled services are ignored on purpose).
		if o.Interpolate == nil {
			return
		}
		o.Interpolate.Substitute = func(s string, m template.Mapping) (string, error) {
			return template.SubstituteWithOptions(s, m, template.WithoutLogging)
		}
	})
	if err != nil {
		return nil, &ValidationError{File: ComposeFile, Line: errorLine(err.Error(), c),
			Reason: "not a valid Compose file: " + err.Error()}
	}
	return p, nil
}

// serviceNamed finds the service a compose-go error names: "services.web.ports" or `service "web"`.
var serviceNamed = regexp.MustCompile(`services[.\[]"?([A-Za-z0-9_.-]+?)"?[.\]\s:]|service "([^"]+)"`)

// errorLine guesses the line of a compose-go error from the service it names, 0 when it names none.
func errorLine(msg string, c *composeDoc) int {
	m := serviceNamed.FindStringSubmatch(msg + " ")
	if m == nil {
		return 0
	}
	if s, ok := c.lookup(m[1] + m[2]); ok {
		return s.Line
	}
	return 0
}
