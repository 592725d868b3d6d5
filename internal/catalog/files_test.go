package catalog

import (
	"encoding/json"
	"strings"
	"testing"
)

// Text files travel as JSON strings, others as {"base64": ...}, and both read back byte for byte.
func TestFilesJSON(t *testing.T) {
	in := Files{"a.txt": "héllo\n", "bin/app": "\x7fELF\x00\xff\xfe"}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"a.txt":"héllo\n"`) || !strings.Contains(string(b), `"bin/app":{"base64":"f0VMRgD//g=="}`) {
		t.Errorf("encoded as %s", b)
	}
	var out Files
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || out["a.txt"] != in["a.txt"] || out["bin/app"] != in["bin/app"] {
		t.Errorf("read back %q", out)
	}
	if err := json.Unmarshal([]byte(`{"x": {"base64": "%%"}}`), &out); err == nil || !strings.Contains(err.Error(), "file x") {
		t.Errorf("bad base64: %v", err)
	}
	if err := json.Unmarshal([]byte(`{"x": 3}`), &out); err == nil || !strings.Contains(err.Error(), "file x") {
		t.Errorf("a number: %v", err)
	}
}
