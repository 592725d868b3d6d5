package main

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/stackhub/stackhub/internal/store"
)

// TestEdgeProxiesToTheApp checks the benchmark's edge for real: the certificate it makes, a SQLite route table,
// internal/edge on a TLS listener, and an answer that comes from the app behind it.
func TestEdgeProxiesToTheApp(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "from the app, host "+r.Host)
	}))
	defer app.Close()
	dir := t.TempDir()
	certPEM, keyPEM := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	pool, err := makeCert(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, filepath.Join(dir, "edge.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	e, err := newEdge(ctx, st, cert, app.Listener.Addr().(*net.TCPAddr).Port)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.Listen(ctx, nil, ln) }()

	tg := target{URL: "https://" + benchName + "/", Addr: ln.Addr().String()}
	res, err := client(tg.Addr, &tls.Config{RootCAs: pool, ServerName: benchName}).Get(tg.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || string(body) != "from the app, host "+benchName {
		t.Fatalf("GET through the edge: %s %q", res.Status, body)
	}
	if res.ProtoMajor != 1 {
		t.Fatalf("the benchmark's client spoke %s, want HTTP/1.1", res.Proto)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
