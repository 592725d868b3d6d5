package cli

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tu "github.com/stackhub/stackhub/internal/testutil"
	"github.com/stackhub/stackhub/internal/testutil/acmetest"
	"github.com/stackhub/stackhub/internal/testutil/dockertest"
)

// TestServeEdgeObtainsACMECertificate runs `stackhub serve` with both edge listeners and Pebble as its ACME
// directory (its VA reaches the edge's ports through acmetest's Forward), installs the test app with --domain, and
// an HTTPS client trusting only Pebble's issuer root gets the app's answer at https://<name>:<edge port>/; plain
// HTTP answers 308 to it. Started again on the same data and database, serve presents the stored certificate
// without a new order.
func TestServeEdgeObtainsACMECertificate(t *testing.T) {
	pb := acmetest.Shared(t)
	caRoot := filepath.Join(t.TempDir(), "pebble-server-root.pem")
	if err := os.WriteFile(caRoot, pb.ServerRootPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		dockertest.Image(t, "stackhub-test/web:v1")
		lib := tu.NewLibrary(t)
		lib.Add(t, "web", tu.WebCompose, "READY_AFTER=0\n")
		prefix := fmt.Sprintf("t%06x", rand.Uint32()&0xffffff)
		httpAddr, httpsAddr := freeAddr(t), freeAddr(t)
		pb.Forward(t, httpAddr, httpsAddr)
		args := []string{"--data-dir", t.TempDir(), "--database", e.DSN(t), "--prefix", prefix,
			"--edge-http", httpAddr, "--edge-https", httpsAddr, "--publish", "loopback",
			"--acme-directory", pb.DirectoryURL, "--acme-ca-root", caRoot, "--acme-profile", acmetest.DefaultProfile}
		env := []string{"DOGETOK=" + cliToken}
		p := startServe(t, env, args...)
		t.Cleanup(func() { dockertest.Cleanup(t, prefix+"-site") })
		mustCLI(t, p.url, "catalog", "import", lib.Dir)
		name := acmetest.Name("site")
		mustCLI(t, p.url, "app", "install", "web", "--id", "site", "--domain", name)

		// Every name is 127.0.0.1 (the URLs carry the edge's ports); TLS trusts Pebble's issuer alone.
		tr := &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				return (&net.Dialer{Timeout: 10 * time.Second}).DialContext(ctx, network, "127.0.0.1:"+port(addr))
			},
			TLSClientConfig: &tls.Config{RootCAs: pb.IssuerRoots()},
		}
		t.Cleanup(tr.CloseIdleConnections)
		c := &http.Client{Transport: tr, Timeout: time.Minute,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		secure := "https://" + net.JoinHostPort(name, port(httpsAddr)) + "/"
		get := func(url string) (*http.Response, string, error) {
			res, err := c.Get(url)
			if err != nil {
				return nil, "", err
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			return res, strings.TrimSpace(string(b)), nil
		}

		// The certificate is obtained from Pebble (in the background or on the first handshake).
		var issuer string
		var lifetime time.Duration
		waitFor(t, "the app over HTTPS with Pebble's certificate", func() (bool, string) {
			res, body, err := get(secure)
			if err != nil {
				return false, err.Error() + "\n" + p.stderr.String()
			}
			if res.TLS != nil && len(res.TLS.PeerCertificates) > 0 {
				leaf := res.TLS.PeerCertificates[0]
				issuer, lifetime = leaf.Issuer.CommonName, leaf.NotAfter.Sub(leaf.NotBefore)
			}
			return res.StatusCode == 200 && body == "web v1", fmt.Sprintf("%d %q", res.StatusCode, body)
		})
		if !strings.Contains(strings.ToLower(issuer), "pebble") {
			t.Errorf("the certificate's issuer is %q, not Pebble's", issuer)
		}
		if lifetime < 24*time.Hour { // --acme-profile reached the order: Pebble's default profile is 90 days
			t.Errorf("the certificate lives %s; --acme-profile %s asks for 90 days", lifetime, acmetest.DefaultProfile)
		}
		orders := pb.Orders()

		res, _, err := get("http://" + net.JoinHostPort(name, port(httpAddr)) + "/")
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != http.StatusPermanentRedirect || res.Header.Get("Location") != secure {
			t.Errorf("plain HTTP: %d to %q, want 308 to %q", res.StatusCode, res.Header.Get("Location"), secure)
		}

		// Started again, serve presents the certificate it stored: no new order.
		first := p
		p.stop(t)
		tr.CloseIdleConnections()
		p = startServe(t, env, args...)
		waitFor(t, "the app over HTTPS after a restart", func() (bool, string) {
			res, body, err := get(secure)
			if err != nil {
				return false, err.Error()
			}
			return res.StatusCode == 200 && body == "web v1", fmt.Sprintf("%d %q", res.StatusCode, body)
		})
		if n := pb.Orders(); n != orders {
			t.Errorf("Pebble created %d orders after the restart; the first process's log:\n%s\nthe second's:\n%s",
				n-orders, first.stderr, p.stderr)
		}
		mustCLI(t, p.url, "app", "uninstall", "site", "--purge")
	})
}

// port is the port of a host:port.
func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}
