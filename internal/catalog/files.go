package catalog

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"
)

// Files are a stack's extra files by relative path. A file that is not UTF-8 text (a static binary a Dockerfile
// copies) travels in JSON as {"base64": "..."}; a text file as a plain string, as always.
type Files map[string]string

// binaryFile is the JSON form of a file that is not UTF-8 text.
type binaryFile struct {
	Base64 string `json:"base64"`
}

// MarshalJSON writes text files as strings and the others base64-encoded.
func (f Files) MarshalJSON() ([]byte, error) {
	out := make(map[string]any, len(f))
	for name, body := range f {
		if utf8.ValidString(body) {
			out[name] = body
		} else {
			out[name] = binaryFile{Base64: base64.StdEncoding.EncodeToString([]byte(body))}
		}
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads both forms MarshalJSON writes.
func (f *Files) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if raw == nil {
		*f = nil
		return nil
	}
	out := make(Files, len(raw))
	for name, v := range raw {
		var text string
		if err := json.Unmarshal(v, &text); err == nil {
			out[name] = text
			continue
		}
		var bin binaryFile
		if err := json.Unmarshal(v, &bin); err != nil {
			return fmt.Errorf("file %s: want a string or {\"base64\": \"...\"}", name)
		}
		body, err := base64.StdEncoding.DecodeString(bin.Base64)
		if err != nil {
			return fmt.Errorf("file %s: its base64 does not decode: %w", name, err)
		}
		out[name] = string(body)
	}
	*f = out
	return nil
}

// Schema describes Files to the HTTP API's validation (huma): each value a string or {"base64": "..."}.
func (Files) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{Type: huma.TypeObject, Description: "extra files by relative path: the text, or {\"base64\": ...} for a binary",
		AdditionalProperties: &huma.Schema{OneOf: []*huma.Schema{
			{Type: huma.TypeString},
			{Type: huma.TypeObject, Required: []string{"base64"}, Properties: map[string]*huma.Schema{"base64": {Type: huma.TypeString}}},
		}}}
}
