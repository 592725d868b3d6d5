package certs_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libdns/libdns"

	"github.com/stackhub/stackhub/internal/certs"
)

// The Cloudflare provider's calls, against a stand-in for the API (Cloudflare itself is out of reach here): it
// finds the zone, adds the TXT record with the token, and deletes only the record with the same content.
func TestCloudflareCalls(t *testing.T) {
	var mu sync.Mutex
	var calls []string
	records := map[string]string{"r1": "token-a", "r2": "token-b"}
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer secret-token" {
			w.WriteHeader(http.StatusForbidden)
			_ = json.NewEncoder(w).Encode(map[string]any{"success": false, "errors": []map[string]string{{"message": "bad token"}}})
			return
		}
		calls = append(calls, r.Method+" "+r.URL.RequestURI())
		var result any
		switch {
		case r.URL.Path == "/zones":
			result = []map[string]string{{"id": "z1"}}
		case r.Method == http.MethodGet:
			var rs []map[string]string
			for id, c := range records {
				rs = append(rs, map[string]string{"id": id, "content": c})
			}
			result = rs
		case r.Method == http.MethodPost:
			var rec map[string]any
			_ = json.NewDecoder(r.Body).Decode(&rec)
			if rec["name"] != "_acme-challenge.example.com" || rec["type"] != "TXT" || rec["content"] != "token-c" {
				t.Errorf("added %v", rec)
			}
		case r.Method == http.MethodDelete:
			delete(records, r.URL.Path[len("/zones/z1/dns_records/"):])
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"success": true, "result": result})
	}))
	defer api.Close()
	p := &certs.Cloudflare{APIToken: "secret-token", BaseURL: api.URL}
	ctx := context.Background()
	txt := func(v string) []libdns.Record {
		return []libdns.Record{libdns.TXT{Name: "_acme-challenge", TTL: time.Minute, Text: v}}
	}
	if _, err := p.AppendRecords(ctx, "example.com.", txt("token-c")); err != nil {
		t.Fatal(err)
	}
	if _, err := p.DeleteRecords(ctx, "example.com.", txt("token-a")); err != nil {
		t.Fatal(err)
	}
	if _, ok := records["r1"]; ok || records["r2"] != "token-b" {
		t.Errorf("records left: %v", records)
	}
	if len(calls) != 5 || calls[0] != "GET /zones?name=example.com" {
		t.Errorf("calls = %q", calls)
	}
	bad := &certs.Cloudflare{APIToken: "wrong", BaseURL: api.URL}
	if _, err := bad.AppendRecords(ctx, "example.com.", txt("x")); err == nil || !strings.Contains(err.Error(), "bad token") {
		t.Errorf("wrong token: %v", err)
	}
}
