package catalog

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSettings(t *testing.T) {
	tests := []struct {
		name string
		env  string
		want []Setting
	}{
		{"ports, other settings and W9_URL in .env order",
			"W9_VERSION=1\nW9_URL=internet_ip:$W9_HTTP_PORT_SET\nW9_HTTP_PORT_SET='9001'\nW9_HTTP_PORT=80\n" +
				"W9_EDITION_SET=ce # edition\nW9_SSH_PORT_SET=\"2222\"\nOTHER=x\n",
			[]Setting{{Name: "W9_URL", Default: "internet_ip:"}, {Name: "W9_HTTP_PORT_SET", Default: "9001", Port: true},
				{Name: "W9_EDITION_SET", Default: "ce"}, {Name: "W9_SSH_PORT_SET", Default: "2222", Port: true}}},
		{"defaults as Compose reads them", "W9_HTTPS_PORT_SET='9443'\nW9_URL=internet_ip:$W9_HTTPS_PORT_SET\n",
			[]Setting{{Name: "W9_HTTPS_PORT_SET", Default: "9443", Port: true}, {Name: "W9_URL", Default: "internet_ip:9443"}}},
		{"single-quoted W9_URL stays literal", "W9_HTTP_PORT_SET=9001\nW9_URL='internet_ip:$W9_HTTP_PORT_SET'\n",
			[]Setting{{Name: "W9_HTTP_PORT_SET", Default: "9001", Port: true},
				{Name: "W9_URL", Default: "internet_ip:$W9_HTTP_PORT_SET"}}},
		{"none", "W9_ID=x\nW9_SETTING=1\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Stack{Env: tt.env}
			got, err := s.Settings()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Settings (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := (&Stack{Env: "A='x\n"}).Settings(); err == nil || !strings.Contains(err.Error(), "unterminated") {
		t.Errorf("Settings of broken .env: error %v, want unterminated", err)
	}
}

func TestValidateHostAccess(t *testing.T) {
	s := validStack()
	s.Compose = `services:
  agent:
    image: agent
    container_name: ${W9_ID}
    privileged: true
    network_mode: host
    pid: host
    cap_add: [NET_ADMIN, SYS_TIME]
    devices: ["/dev/fuse:/dev/fuse"]
    security_opt: ["no-new-privileges:true", "seccomp:unconfined"]
    volumes:
      - /var/run/docker.sock:/var/run/docker.sock
      - /etc/localtime:/etc/localtime
      - /etc/timezone:/etc/timezone:ro
      - type: bind
        source: /srv/data
        target: /data
      - hostvol:/hostvol
volumes:
  hostvol:
    driver_opts: {type: none, o: bind, device: /mnt/disk}
`
	want := []string{
		"service agent adds capabilities (NET_ADMIN, SYS_TIME)",
		"service agent binds the Docker socket (/var/run/docker.sock)",
		"service agent binds the host path /etc/localtime",
		"service agent binds the host path /srv/data",
		"service agent mounts volume hostvol, which is the host path /mnt/disk",
		"service agent runs privileged",
		"service agent shares the host's namespace (network_mode: host)",
		"service agent shares the host's namespace (pid: host)",
		"service agent uses the host device /dev/fuse",
		"service agent weakens its confinement (security_opt seccomp:unconfined)",
	}
	if err := Validate(s, ValidateOptions{AllowHostAccess: true}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, s.HostAccess); diff != "" {
		t.Errorf("HostAccess (-want +got):\n%s", diff)
	}
	err := Validate(s, ValidateOptions{})
	if err == nil || !strings.Contains(err.Error(), "only templates the administrator imports may") ||
		!strings.Contains(err.Error(), want[0]) || !strings.Contains(err.Error(), want[len(want)-1]) {
		t.Errorf("Validate without host access = %v, want every reason listed", err)
	}
	if diff := cmp.Diff(want, s.HostAccess); diff != "" {
		t.Errorf("HostAccess after a refusal (-want +got):\n%s", diff)
	}
}

func TestValidationErrorMessage(t *testing.T) {
	tests := []struct {
		err  *ValidationError
		want string
	}{
		{&ValidationError{File: ComposeFile, Line: 12, Reason: "r"}, "docker-compose.yml line 12: r"},
		{&ValidationError{File: EnvFile, Reason: "r"}, ".env: r"},
		{&ValidationError{Reason: "too big"}, "too big"},
		{&ValidationError{File: "a", Line: 1, Reason: "x", More: []*ValidationError{{File: "b", Reason: "y"}}},
			"a line 1: x; b: y"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	var more []*ValidationError
	for range maxListed + 3 {
		more = append(more, &ValidationError{Reason: "m"})
	}
	if got := (&ValidationError{Reason: "first", More: more}).Error(); !strings.HasSuffix(got, "; m; and 3 more") {
		t.Errorf("long Error() = %q, want it capped with the count left", got)
	}
}
