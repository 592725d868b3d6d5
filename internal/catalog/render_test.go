package catalog

import (
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/google/go-cmp/cmp"
)

// readBack parses rendered .env text as Compose does, with nothing looked up outside it.
func readBack(t testing.TB, text string) map[string]string {
	t.Helper()
	m, err := dotenv.ParseWithLookup(strings.NewReader(text), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("dotenv cannot read %q: %v", text, err)
	}
	return m
}

func TestRenderEnvInPlace(t *testing.T) {
	tests := []struct {
		name   string
		text   string
		values map[string]string
		want   string
	}{
		{"replaces in place, keeps comments and order",
			"# head\nW9_ID='wordpress'\nW9_POWER_PASSWORD='old' # secret\nW9_LOGIN_PASSWORD=$W9_POWER_PASSWORD\n",
			map[string]string{"W9_ID": "blog", "W9_POWER_PASSWORD": `a$b#c'd!`},
			"# head\nW9_ID=blog\nW9_POWER_PASSWORD=\"a\\$b#c'd!\" # secret\nW9_LOGIN_PASSWORD=$W9_POWER_PASSWORD\n"},
		{"appends missing keys sorted, after a final newline", "A=1",
			map[string]string{"Z": "z", "B": "b c"}, "A=1\nB='b c'\nZ=z\n"},
		{"replaces a multi-line value", "A=\"one\ntwo\"\nB=2\n", map[string]string{"A": "x"}, "A=x\nB=2\n"},
		{"replaces an empty value at the end", "A=1\nB=", map[string]string{"B": "9001"}, "A=1\nB=9001"},
		{"replaces every occurrence of a repeated key", "A=1\nA=2\n", map[string]string{"A": "3"}, "A=3\nA=3\n"},
		{"empty text", "", map[string]string{"A": ""}, "A=\n"},
		{"no values", "A=1 # c\n", nil, "A=1 # c\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RenderEnv(tt.text, tt.values)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("RenderEnv (-want +got):\n%s", diff)
			}
			back := readBack(t, got)
			for k, v := range tt.values {
				if back[k] != v {
					t.Errorf("%s reads back as %q, want %q", k, back[k], v)
				}
			}
		})
	}
}

func TestRenderEnvRoundTrip(t *testing.T) {
	values := []string{"", "plain", "9001", "a b", "a$b", "$$", "${X}", "$X", "a#b", " #x", "#start", "it's",
		`say "hi"`, `back\slash`, `ends\`, `\'`, `'`, `"`, `\"`, `\$`, `\n`, `\0123`, "line\nbreak", "tab\tx",
		"crlf\r\n", "  leading", "trailing  ", "=eq", "!@%^&*()[]{}|;<>?~`", "ünïcødé ✓", `a$b#c'd!`,
		`a$b#c'd!@ e"f\g`, "\x85\xa0", "export", "x:y", "\\\\"}
	const text = "# engine values below\nA=old\nREF=$A\nQREF=\"<${A}>\"\nLIT='$A'\n"
	for _, v := range values {
		t.Run(v, func(t *testing.T) {
			out, err := RenderEnv(text, map[string]string{"A": v, "NEW": v})
			if err != nil {
				t.Fatal(err)
			}
			got := readBack(t, out)
			want := map[string]string{"A": v, "NEW": v, "REF": v, "QREF": "<" + v + ">", "LIT": "$A"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("read back from %q (-want +got):\n%s", out, diff)
			}
			vars, err := ParseEnv(out)
			if err != nil {
				t.Fatalf("ParseEnv of rendered text: %v", err)
			}
			if len(vars) != 5 {
				t.Errorf("ParseEnv sees %d keys in %q, want 5", len(vars), out)
			}
		})
	}
}

func TestRenderEnvErrors(t *testing.T) {
	tests := []struct {
		name   string
		text   string
		values map[string]string
		want   string
	}{
		{"bad key", "A=1\n", map[string]string{"A B": "x"}, `"A B" is not a valid variable name`},
		{"NUL in value", "A=1\n", map[string]string{"A": "a\x00b"}, "NUL byte"},
		{"unparsable text", "A='1\n", map[string]string{"A": "x"}, "unterminated quoted value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := RenderEnv(tt.text, tt.values)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("RenderEnv error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func FuzzRenderEnv(f *testing.F) {
	for _, s := range []string{"", "x", `a$b#c'd!`, `\'`, `ends\`, "a\nb", `"$X"`, "\r", " # ", "${A:-b}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		out, err := RenderEnv("A=old\nREF=$A\n# c\n", map[string]string{"A": v, "B": v})
		if strings.IndexByte(v, 0) >= 0 {
			if err == nil {
				t.Fatalf("RenderEnv accepted a NUL byte")
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		got := readBack(t, out)
		if got["A"] != v || got["B"] != v || got["REF"] != v {
			t.Fatalf("value %q rendered as %q reads back as %q", v, out, got)
		}
	})
}
