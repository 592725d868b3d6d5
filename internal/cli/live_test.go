package cli

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	tu "github.com/stackhub/stackhub/internal/testutil"
)

// A delivery still pending when the server dies is sent by the next start, signed; the GeekApk socket answers on
// --ws-listen.
func TestServeDeliversPendingWebhooksAfterRestart(t *testing.T) {
	t.Parallel()
	tu.ForEachEngineParallel(t, func(t *testing.T, e tu.Engine) {
		const token, secret = "restart-test-admin-token-0123456789", "restart-test-secret"
		var up atomic.Bool
		var mu sync.Mutex
		var got []string
		rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			if !up.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			mac := hmac.New(sha256.New, []byte(secret))
			mac.Write(b)
			sig := "sha256=" + hex.EncodeToString(mac.Sum(nil))
			mu.Lock()
			got = append(got, string(b)+" signed:"+boolText(r.Header.Get("X-StackHub-Signature") == sig))
			mu.Unlock()
		}))
		defer rc.Close()
		env := []string{"DOGETOK=" + token, "WEBHOOKS=newUser:" + rc.URL + "/hook", "STACKHUB_WEBHOOK_SECRET=" + secret,
			"STACKHUB_WEBHOOK_TIMEOUT=2s"}
		dir, dsn, ws := t.TempDir(), e.DSN(t), freeAddr(t)
		args := []string{"--data-dir", dir, "--database", dsn, "--ws-listen", ws}
		p := startServe(t, env, args...)
		if ans := geekAsk(t, "ws://"+ws+"/", "o"); ans != "0" {
			t.Errorf("the GeekApk socket answered %q to o", ans)
		}
		uid := strings.SplitN(call(t, p.url, token, "POST", "/doge/useradd", `{"simple_name":"alice"}`), ":", 2)[0]
		waitUntil(t, "a failed attempt", func() bool {
			var ds []struct {
				State     string `json:"state"`
				LastError string `json:"last_error"`
			}
			_ = json.Unmarshal([]byte(call(t, p.url, token, "GET", "/api/v1/webhooks/deliveries", "")), &ds)
			return len(ds) == 1 && ds[0].State == "pending" && strings.Contains(ds[0].LastError, "503")
		})
		_ = p.cmd.Process.Kill() // a crash: nothing gets to clean up
		_ = p.wait()
		up.Store(true)

		p = startServe(t, env, args...)
		waitUntil(t, "the pending delivery arrives", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(got) > 0
		})
		p.stop(t)
		mu.Lock()
		defer mu.Unlock()
		if len(got) != 1 || got[0] != uid+" signed:yes" {
			t.Errorf("receiver got %q, want one signed delivery of %q", got, uid)
		}
	})
}

func boolText(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// call sends one admin request and returns the body, failing on a non-2xx status.
func call(t *testing.T, base, token, method, path, body string) string {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %s %s", method, path, res.Status, b)
	}
	return string(b)
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// geekAsk sends one frame on a GeekApk socket and returns the answer.
func geekAsk(t *testing.T, url, frame string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
		t.Fatal(err)
	}
	_, b, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
