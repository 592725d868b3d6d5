package catalog

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/google/go-cmp/cmp"
)

func TestParseEnv(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []EnvVar
	}{
		{"plain, comments and export", "# header\n\nA=1\n  # indented comment\nexport B=two\n",
			[]EnvVar{{"A", "1"}, {"B", "two"}}},
		{"single quotes are literal", `A='x $Y # z \n'`, []EnvVar{{"A", `x $Y # z \n`}}},
		{"double quote escapes", `A="a\nb"
B="\*"
C="say \"hi\""
D="\$X"
`,
			[]EnvVar{{"A", "a\nb"}, {"B", `\*`}, {"C", `say "hi"`}, {"D", "$$X"}}},
		{"inline comment after unquoted value", "SIGNUPS_ALLOWED=true # Deactivate this\nB=a#b\n",
			[]EnvVar{{"SIGNUPS_ALLOWED", "true"}, {"B", "a#b"}}},
		{"comment after closing quote", "A='x' # note\n", []EnvVar{{"A", "x"}}},
		{"keys with dots", "cluster.name=es\nnetwork.host=\"0.0.0.0\"\n",
			[]EnvVar{{"cluster.name", "es"}, {"network.host", "0.0.0.0"}}},
		{"empty values", "W9_REPO=\nB=''\nC=\n", []EnvVar{{"W9_REPO", ""}, {"B", ""}, {"C", ""}}},
		{"references stay unexpanded", "A=1\nB=$A\nC=${A}-x\n", []EnvVar{{"A", "1"}, {"B", "$A"}, {"C", "${A}-x"}}},
		{"unquoted blanks inside", "GF_LOG_MODE=console file  \n", []EnvVar{{"GF_LOG_MODE", "console file"}}},
		{"no final newline", "A=1\nW9_DIST='community'", []EnvVar{{"A", "1"}, {"W9_DIST", "community"}}},
		{"multi-line double quotes", "A=\"one\ntwo\"\nB=2\n", []EnvVar{{"A", "one\ntwo"}, {"B", "2"}}},
		{"CRLF line ends", "A=1\r\nB='2'\r\n", []EnvVar{{"A", "1"}, {"B", "2"}}},
		{"yaml-style separator and blanks around =", "A: 1\nB = 2\n", []EnvVar{{"A", "1"}, {"B", "2"}}},
		{"byte order mark", "\uFEFFA=1\n", []EnvVar{{"A", "1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEnv(tt.text)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseEnv (-want +got):\n%s", diff)
			}
			// The keys must be the ones Compose sees.
			m, err := dotenv.ParseWithLookup(strings.NewReader(tt.text), nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range got {
				if _, ok := m[v.Key]; !ok {
					t.Errorf("dotenv does not see key %s", v.Key)
				}
			}
		})
	}
}

func TestParseEnvErrors(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"key without value", "A=1\nFOO\n", "line 2: \"FOO\" has no value"},
		{"key without value at end", "A=1\nFOO", "line 2: \"FOO\" has no value"},
		{"unterminated quote", "A=1\nB=\"abc\nC=2\n", "line 2: unterminated quoted value for B"},
		{"space in key", "A B=1\n", "line 1: variable name \"A B\" cannot contain a space"},
		{"text after quote", "A='x'y\n", "line 1: unexpected text \"y\" after the closing quote"},
		{"bad character", "A=1\n\n$A=1\n", "line 3: unexpected character \"$\""},
		{"no name", "=1\n", "line 1: a value has no variable name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseEnv(tt.text)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseEnv error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestParseEnvSamples parses every sample .env and compares with Compose's reading: same keys, and the same
// value wherever no reference or escape is involved.
func TestParseEnvSamples(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(sampleLibrary, "apps", "*", ".env"))
	if err != nil || len(paths) < 40 {
		t.Fatalf("sample .env files: %d, %v", len(paths), err)
	}
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseEnv(string(b))
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		want, err := dotenv.ParseWithLookup(strings.NewReader(string(b)), nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Errorf("%s: %d keys, dotenv reads %d", path, len(got), len(want))
		}
		for _, v := range got {
			if !strings.ContainsAny(v.Value, `$\`) && want[v.Key] != v.Value {
				t.Errorf("%s: %s = %q, dotenv reads %q", path, v.Key, v.Value, want[v.Key])
			}
		}
	}
}
