package catalog

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const validCompose = `services:
  web:
    image: nginx:${W9_VERSION}
    container_name: $W9_ID
    ports:
      - "${W9_HTTP_PORT_SET}:80"
      - "127.0.0.1:${W9_DB_PORT_SET:-3306}:3306/tcp"
      - "8080"
    volumes:
      - ./src/default.conf:/etc/nginx/conf.d/default.conf:ro
      - ./src/conf.d/:/etc/extra
      - /etc/localtime:/etc/localtime:ro
      - data:/data
    env_file: .env
    environment:
      PASSWORD: ${W9_POWER_PASSWORD}
      HOME_DIR: "$$HOME"
      OPTIONAL: ${NOT_DEFINED:-fallback}
    command: sh -c 'echo $${PATH}'
  backup:
    image: alpine
    container_name: ${W9_ID}-backup
    profiles: [backup]
    ports:
      - "5000:5000"
    command: echo $UNDEFINED_IN_DISABLED
volumes:
  data:
networks:
  default:
    name: ${W9_NETWORK}
    external: true
`

const validEnv = `W9_VERSION=1.29
W9_HTTP_PORT_SET='9001'
W9_DB_PORT_SET=3306
W9_POWER_PASSWORD='secret!'
W9_LOGIN_PASSWORD=$W9_POWER_PASSWORD
W9_URL=internet_ip:$W9_HTTP_PORT_SET
`

// validStack is a stack that passes Validate without host access.
func validStack() *Stack {
	return &Stack{Compose: validCompose, Env: validEnv, Requirements: Requirements{CPU: 1, Memory: 1, Disk: 2},
		Files: map[string]string{"src/default.conf": "server {}", "src/conf.d/my.cnf": "[mysqld]"}}
}

func TestValidateAccepts(t *testing.T) {
	s := validStack()
	if err := Validate(s, ValidateOptions{}); err != nil {
		t.Fatal(err)
	}
	if s.HostAccess != nil {
		t.Errorf("HostAccess = %v, want none", s.HostAccess)
	}
}

func TestValidateAcceptsPullPolicies(t *testing.T) {
	for _, policy := range []string{"always", "missing", "never", "if_not_present", "daily", "every_12h", "${POLICY:-always}"} {
		s := validStack()
		s.Compose = strings.Replace(s.Compose, "    env_file: .env\n", "    env_file: .env\n    pull_policy: "+policy+"\n", 1)
		if err := Validate(s, ValidateOptions{}); err != nil {
			t.Errorf("pull_policy %s: %v", policy, err)
		}
	}
}

// The admin's templates may use cgroup, runtime, devices, GPU reservations and host paths chosen by settings: all
// host access, recorded.
func TestValidateHostAccessKinds(t *testing.T) {
	s := validStack()
	replace("    env_file: .env\n", `    env_file: .env
    cgroup: host
    runtime: nvidia
    devices: ["/dev/dri:/dev/dri"]
    deploy:
      resources:
        reservations:
          devices:
            - driver: nvidia
              count: all
              capabilities: [gpu]
`)(s)
	replace("./src/conf.d/:/etc/extra", "${W9_SCAN_PATH_SET}:/scan")(s)
	s.Env += "W9_SCAN_PATH_SET=/home\n"
	if err := Validate(s, ValidateOptions{AllowHostAccess: true}); err != nil {
		t.Fatal(err)
	}
	want := []string{"service web binds a host path that the setting W9_SCAN_PATH_SET chooses",
		"service web reserves host devices (gpu, driver nvidia, all)", "service web runs with the container runtime nvidia",
		"service web shares the host's namespace (cgroup: host)", "service web uses the host device /dev/dri"}
	if diff := cmp.Diff(want, s.HostAccess); diff != "" {
		t.Errorf("host access (-want +got):\n%s", diff)
	}
}

// Replicas run as Compose runs them: several containers of a service publish a host port range, or only their
// container port; none is fine too.
func TestValidateAcceptsReplicas(t *testing.T) {
	for _, change := range []string{"    scale: 0\n", "    deploy: {replicas: 1}\n",
		"    deploy:\n      replicas: ${BACKUPS:-2}\n      resources: {limits: {memory: 64M}}\n"} {
		s := validStack()
		replace("    image: alpine\n    container_name: ${W9_ID}-backup\n", "    image: alpine\n"+change)(s)
		replace(`- "5000:5000"`, `- "5000-5001:5000"`+"\n      - \"6000\"")(s)
		if err := Validate(s, ValidateOptions{}); err != nil {
			t.Errorf("%q: %v", change, err)
		}
	}
}

func TestValidateAcceptsBuilds(t *testing.T) {
	for _, build := range []string{"{context: src}", "{context: ., dockerfile: src/default.conf, args: {A: b}, target: t}",
		"{dockerfile_inline: 'FROM scratch'}"} {
		s := validStack()
		s.Files["src/Dockerfile"] = "FROM scratch\n"
		replace("    image: nginx:${W9_VERSION}\n", "    build: "+build+"\n    pull_policy: build\n")(s)
		if err := Validate(s, ValidateOptions{}); err != nil {
			t.Errorf("build %s: %v", build, err)
		}
	}
}

func TestValidateAcceptsAnchorsAndExtensions(t *testing.T) {
	s := validStack()
	s.Compose = "x-common: &common\n  restart: unless-stopped\n  env_file: .env\n" +
		strings.Replace(s.Compose, "    image: alpine\n", "    <<: *common\n    x-note: kept\n    image: alpine\n", 1)
	if err := Validate(s, ValidateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestValidateErrors(t *testing.T) {
	tests := []struct {
		name   string
		change func(s *Stack)
		opt    ValidateOptions
		want   ValidationError // Reason: a substring of the reason
	}{
		{"bad YAML indentation", replace("    env_file: .env", "   env_file: .env"), ValidateOptions{},
			ValidationError{ComposeFile, 14, "invalid YAML: did not find expected key", nil}},
		{"tab in YAML", replace("    env_file: .env", "\tenv_file: .env"), ValidateOptions{},
			ValidationError{ComposeFile, 14, "invalid YAML: found a tab character that violates indentation", nil}},
		{"duplicate YAML key", replace("    env_file: .env", "    env_file: .env\n    image: other"), ValidateOptions{},
			ValidationError{ComposeFile, 15, `"image" is defined twice (first on line 3)`, nil}},
		{"required variable", replace("${NOT_DEFINED:-fallback}", "${NEEDED:?set it}"), ValidateOptions{},
			ValidationError{ComposeFile, 18, "variable NEEDED is not defined in .env, and the file requires it", nil}},
		{"build without its Dockerfile", replace("    container_name: $W9_ID\n", "    container_name: $W9_ID\n    build: .\n"),
			ValidateOptions{}, ValidationError{ComposeFile, 5,
				"service web builds with Dockerfile, which is not in the template's files", nil}},
		{"remote build context", replace("    container_name: $W9_ID\n", "    container_name: $W9_ID\n    build: https://example.com/app.git\n"),
			ValidateOptions{}, ValidationError{ComposeFile, 5, "a build context must be the template's own files", nil}},
		{"unsupported build key", replace("    container_name: $W9_ID\n", "    container_name: $W9_ID\n    build:\n      context: .\n      dockerfile_inline: FROM scratch\n      ssh: [default]\n"),
			ValidateOptions{}, ValidationError{ComposeFile, 8, "uses build.ssh, which StackHub does not support", nil}},
		{"include", func(s *Stack) { s.Compose = "include:\n  - other.yml\n" + s.Compose }, ValidateOptions{},
			ValidationError{ComposeFile, 1, `top-level key "include" is not supported by StackHub; put every service in this one`, nil}},
		{"compose-go refuses a dependency", replace("    env_file: .env\n", "    env_file: .env\n    depends_on: [nowhere]\n"),
			ValidateOptions{}, ValidationError{ComposeFile, 2, `not a valid Compose file: service "web" depends on undefined service`, nil}},
		{"compose-go refuses a port", replace(`- "8080"`, `- "80:80:80:80"`), ValidateOptions{},
			ValidationError{ComposeFile, 0, "not a valid Compose file: invalid IP address", nil}},
		{"unsupported top-level key", replace("volumes:\n  data:", "secrets:\n  c:\n    file: ./c\nvolumes:\n  data:"),
			ValidateOptions{}, ValidationError{ComposeFile, 27, `top-level key "secrets" is not supported`, nil}},
		{"config file not in files", useConfig("file: ./c.txt"), ValidateOptions{},
			ValidationError{ComposeFile, 29, "config c reads ./c.txt, which is not in the template's files", nil}},
		{"config file leaves the project", useConfig("file: ../c.txt"), ValidateOptions{},
			ValidationError{ComposeFile, 29, "config c reads ../c.txt, which leaves the project directory", nil}},
		{"external config", useConfig("external: true"), ValidateOptions{},
			ValidationError{ComposeFile, 29, "config c is external, which only a Swarm provides", nil}},
		{"host config without host access", useConfig("file: /etc/hostname"), ValidateOptions{},
			ValidationError{ComposeFile, 0, "needs access to the host (config c reads the host file /etc/hostname)", nil}},
		{"unsupported deploy key", replace("    env_file: .env\n", "    env_file: .env\n    deploy:\n      mode: global\n"),
			ValidateOptions{}, ValidationError{ComposeFile, 16, `"deploy.mode", which StackHub does not support; only deploy.replicas,`, nil}},
		{"replicas with container_name", replace("    image: alpine\n", "    image: alpine\n    deploy: {replicas: 2}\n"),
			ValidateOptions{}, ValidationError{ComposeFile, 23, "service backup sets container_name with deploy.replicas: 2, " +
				"but each replica needs its own name; remove container_name (the replicas are named <project>-backup-1 to -2)", nil}},
		{"replicas with a fixed host port", replace("    image: alpine\n    container_name: ${W9_ID}-backup\n",
			"    image: alpine\n    scale: ${BACKUPS:-3}\n"), ValidateOptions{}, ValidationError{ComposeFile, 25,
			`service backup publishes the fixed host port 5000 with scale: 3, so its replicas would conflict on it; ` +
				`publish a host port range (such as "5000-5002:5000") or only the container port ("5000")`, nil}},
		{"unknown pull_policy", replace("    env_file: .env\n", "    env_file: .env\n    pull_policy: sometimes\n"),
			ValidateOptions{}, ValidationError{ComposeFile, 2, `pull_policy 'sometimes' does not match`, nil}},
		{"no image", replace("    image: alpine\n", ""), ValidateOptions{},
			ValidationError{ComposeFile, 20, "service backup has no image", nil}},
		{"privileged without host access", replace("    env_file: .env\n", "    env_file: .env\n    privileged: true\n"),
			ValidateOptions{}, ValidationError{ComposeFile, 0, "needs access to the host (service web runs privileged)", nil}},
		{"docker socket", replace("      - data:/data\n", "      - data:/data\n      - /var/run/docker.sock:/var/run/docker.sock\n"),
			ValidateOptions{}, ValidationError{ComposeFile, 0, "service web binds the Docker socket (/var/run/docker.sock)", nil}},
		{"bind escapes the project", replace("./src/conf.d/:/etc/extra", "./src/../../etc:/etc/extra"), ValidateOptions{},
			ValidationError{ComposeFile, 11, "binds ./src/../../etc, which leaves the project directory", nil}},
		{"bind source not in files, not to be created", replace("- ./src/conf.d/:/etc/extra",
			"- {type: bind, source: ./clickhouse/x.xml, target: /etc/x.xml, bind: {create_host_path: false}}"), ValidateOptions{},
			ValidationError{ComposeFile, 11, "bind source ./clickhouse/x.xml is not in the template's files, and create_host_path is false", nil}},
		{"bind source from a setting", replace("./src/conf.d/:/etc/extra", "./src/${W9_HTTP_PORT_SET}:/etc/extra"),
			ValidateOptions{}, ValidationError{ComposeFile, 0, "needs access to the host (service web binds a host path that the setting W9_HTTP_PORT_SET chooses)", nil}},
		{"runtime without host access", replace("    env_file: .env\n", "    env_file: .env\n    runtime: nvidia\n"),
			ValidateOptions{}, ValidationError{ComposeFile, 0, "needs access to the host (service web runs with the container runtime nvidia)", nil}},
		{"env_file outside the project", replace("env_file: .env", "env_file: ../secrets.env"), ValidateOptions{},
			ValidationError{ComposeFile, 14, "env_file ../secrets.env, which is outside the project", nil}},
		{"oversize", func(s *Stack) { s.Files["src/big"] = strings.Repeat("x", DefaultMaxSize) }, ValidateOptions{},
			ValidationError{"", 0, "over the limit of 1048576 bytes", nil}},
		{"oversize with a custom limit", func(*Stack) {}, ValidateOptions{MaxSize: 100},
			ValidationError{"", 0, "over the limit of 100 bytes", nil}},
		{"file path escapes", func(s *Stack) { s.Files["../x"] = "" }, ValidateOptions{},
			ValidationError{"../x", 0, "leaves the project directory", nil}},
		{"file path collides", func(s *Stack) { s.Files[".env"] = "" }, ValidateOptions{},
			ValidationError{".env", 0, "reserved for the stack's own .env", nil}},
		{"file beside a file as .new", func(s *Stack) { s.Files["src/conf.d/my.cnf.new"] = "" }, ValidateOptions{},
			ValidationError{"src/conf.d/my.cnf.new", 0, "an upgrade that keeps an edited src/conf.d/my.cnf writes", nil}},
		{"file is also a directory", func(s *Stack) { s.Files["src/conf.d"] = "" }, ValidateOptions{},
			ValidationError{"src/conf.d/my.cnf", 0, "src/conf.d is both a file and a directory", nil}},
		{"negative requirement", func(s *Stack) { s.Requirements.Memory = -1 }, ValidateOptions{},
			ValidationError{VariablesFile, 0, "requirements.memory is -1", nil}},
		{".env syntax", func(s *Stack) { s.Env += "BROKEN\n" }, ValidateOptions{},
			ValidationError{EnvFile, 7, `"BROKEN" has no value`, nil}},
		{".env port not a number", func(s *Stack) { s.Env = strings.Replace(s.Env, "'9001'", "http", 1) }, ValidateOptions{},
			ValidationError{EnvFile, 2, `W9_HTTP_PORT_SET is "http"`, nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validStack()
			tt.change(s)
			err := Validate(s, tt.opt)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate = %v, want a *ValidationError", err)
			}
			got := ValidationError{File: ve.File, Line: ve.Line, Reason: tt.want.Reason}
			if !strings.Contains(ve.Reason, tt.want.Reason) {
				got.Reason = ve.Reason
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Validate error %q (-want +got):\n%s", err, diff)
			}
		})
	}
}

// Host ports that no port setting books are fixed: accepted, and listed for the engine to book at install.
func TestValidateFixedPorts(t *testing.T) {
	tests := []struct {
		name   string
		change func(s *Stack)
		want   []string
	}{
		{"a number", replace(`"8080"`, `"8080:80"`), []string{"service web publishes host port 8080/tcp"}},
		{"udp", replace(`"8080"`, `"53:53/udp"`), []string{"service web publishes host port 53/udp"}},
		{"a variable without the _PORT_SET suffix", func(s *Stack) {
			replace("${W9_HTTP_PORT_SET}:80", "${W9_HTTP_PORT}:80")(s)
			s.Env += "W9_HTTP_PORT=8081\n"
		}, []string{"service web publishes host port 8081/tcp"}},
		{"a default only", replace("${W9_HTTP_PORT_SET}:80", "${W9_X_PORT_SET:-81}:80"), []string{"service web publishes host port 81/tcp"}},
		{"long syntax", replace(`- "8080"`, "- target: 80\n        published: 8082"), []string{"service web publishes host port 8082/tcp"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validStack()
			tt.change(s)
			if err := Validate(s, ValidateOptions{}); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, s.FixedPorts); diff != "" {
				t.Errorf("fixed ports (-want +got):\n%s", diff)
			}
		})
	}
}

// TestValidateWarnings checks what Compose reads its own way is accepted with a warning naming the file and line.
func TestValidateWarnings(t *testing.T) {
	tests := []struct {
		name   string
		change func(s *Stack)
		want   []string
	}{
		{"unknown variable", replace("HOME_DIR: \"$$HOME\"", "HOME_DIR: $HOME_DIR"),
			[]string{"docker-compose.yml line 17: variable HOME_DIR is not defined in .env, so Compose reads it as empty"}},
		{"unknown variable in a block scalar", replace("command: sh -c 'echo $${PATH}'", "command: |\n      a\n      b $MISSING"),
			[]string{"docker-compose.yml line 21: variable MISSING is not defined in .env"}},
		{"unknown port variable", func(s *Stack) {
			s.Env = strings.Replace(s.Env, "W9_DB_PORT_SET=3306\n", "", 1)
			replace("${W9_DB_PORT_SET:-3306}", "${W9_DB_PORT_SET}")(s)
		}, []string{"docker-compose.yml line 7: variable W9_DB_PORT_SET is not defined",
			"docker-compose.yml line 7: service web publishes host port ${W9_DB_PORT_SET}, which .env does not define, so Docker picks a free port"}},
		{"bind source not in files", replace("./src/conf.d/:/etc/extra", "./clickhouse/x.xml:/etc/x.xml"),
			[]string{"docker-compose.yml line 11: service web: bind source ./clickhouse/x.xml is not in the template's files, so it is created as an empty directory in the project"}},
		{".env forward reference", func(s *Stack) { s.Env = "A=$B\nB=1\n" + s.Env },
			[]string{".env line 1: A refers to B, which is not defined above it, so Compose reads it as empty"}},
		{".env duplicate", func(s *Stack) { s.Env += "W9_VERSION=2\n" },
			[]string{".env line 7: W9_VERSION is defined twice (first on line 1); as in Compose the last one wins"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validStack()
			tt.change(s)
			if err := Validate(s, ValidateOptions{}); err != nil {
				t.Fatal(err)
			}
			if len(s.Warnings) != len(tt.want) {
				t.Fatalf("Warnings = %q, want %d like %q", s.Warnings, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(s.Warnings[i], w) {
					t.Errorf("warning %d = %q, want it to start with %q", i, s.Warnings[i], w)
				}
			}
		})
	}
	s := validStack()
	if err := Validate(s, ValidateOptions{}); err != nil || s.Warnings != nil {
		t.Errorf("a clean stack: err %v, warnings %q; want none", err, s.Warnings)
	}
}

// useConfig makes the web service use config c, defined by def.
func useConfig(def string) func(s *Stack) {
	return func(s *Stack) {
		replace("    env_file: .env\n", "    env_file: .env\n    configs: [c]\n")(s)
		replace("volumes:\n  data:", "configs:\n  c:\n    "+def+"\nvolumes:\n  data:")(s)
	}
}

func TestValidateAcceptsConfigs(t *testing.T) {
	for _, def := range []string{"file: ./src/default.conf", "content: hello $W9_ID", "environment: W9_VERSION"} {
		s := validStack()
		useConfig(def)(s)
		if err := Validate(s, ValidateOptions{}); err != nil {
			t.Errorf("config %s: %v", def, err)
		}
	}
}

// replace returns a change that replaces old by new in the compose text once, failing loudly if old is absent.
func replace(old, new string) func(s *Stack) {
	return func(s *Stack) {
		if !strings.Contains(s.Compose, old) {
			panic("test compose lacks " + old)
		}
		s.Compose = strings.Replace(s.Compose, old, new, 1)
	}
}
