package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stackhub/stackhub/internal/certs"
	tu "github.com/stackhub/stackhub/internal/testutil"
)

// selfSigned returns a certificate for name valid until notAfter and its key, in PEM.
func selfSigned(t *testing.T, name string, notAfter time.Time) (certPEM, keyPEM string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: notAfter.Add(-48 * time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalPKCS8PrivateKey(key)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}))
}

// /api/v1/certificates is the admin's (a user 403, nobody 401); uploads are refused with the field named; the
// internal CA's root is public; the cert commands upload, list and remove over the API.
func TestCertificatesAPIAndCLI(t *testing.T) {
	t.Parallel()
	tu.ForEachEngineParallel(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		certPEM, keyPEM := selfSigned(t, "blog.example.com", time.Now().Add(24*time.Hour))
		_, otherKey := selfSigned(t, "blog.example.com", time.Now().Add(24*time.Hour))
		body := map[string]string{"cert_pem": certPEM, "key_pem": keyPEM}

		s.Want(401, tu.Anon, "GET", "/api/v1/certificates", nil)
		s.Want(403, s.NewUser("alice"), "POST", "/api/v1/certificates", body)
		r := s.Want(400, tu.Admin, "POST", "/api/v1/certificates", map[string]string{"cert_pem": certPEM, "key_pem": otherKey})
		if !strings.Contains(string(r.Body), `"field":"key_pem"`) {
			t.Errorf("mismatched key: %s", r.Body)
		}
		r = s.Want(400, tu.Admin, "POST", "/api/v1/certificates", map[string]string{"cert_pem": "junk", "key_pem": keyPEM})
		if !strings.Contains(string(r.Body), `"field":"cert_pem"`) {
			t.Errorf("junk chain: %s", r.Body)
		}

		// The certificate events reach webhooks like the host's.
		s.Want(201, tu.Admin, "POST", "/api/v1/webhooks", map[string]string{"event": "certificate.*", "url": "http://127.0.0.1:9/hook"})

		r = s.Want(200, tu.Anon, "GET", "/api/v1/ca.pem", nil)
		if b, _ := pem.Decode(r.Body); b == nil || b.Type != "CERTIFICATE" {
			t.Errorf("ca.pem = %q", r.Body)
		} else if ca, err := x509.ParseCertificate(b.Bytes); err != nil || !ca.IsCA {
			t.Errorf("ca.pem is not a CA certificate: %v", err)
		}
		// A name of mode internal is served a certificate that verifies against that root alone.
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(r.Body)
		if err := s.Certs.Sync(t.Context(), map[string]string{"nas.home.arpa": certs.ModeInternal}); err != nil {
			t.Fatal(err)
		}
		ln, err := tls.Listen("tcp", "127.0.0.1:0", s.Certs.TLSConfig())
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for c, err := ln.Accept(); err == nil; c, err = ln.Accept() {
				_ = c.(*tls.Conn).Handshake()
				c.Close()
			}
		}()
		conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{ServerName: "nas.home.arpa", RootCAs: roots})
		if err != nil {
			t.Fatalf("handshake with nas.home.arpa against /api/v1/ca.pem: %v", err)
		}
		conn.Close()

		dir := t.TempDir()
		cf, kf := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		if err := os.WriteFile(cf, []byte(certPEM), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(kf, []byte(keyPEM), 0o600); err != nil {
			t.Fatal(err)
		}
		tok := "--token=" + tu.AdminToken
		out := mustCLI(t, s.URL, "cert", "upload", cf, kf, tok)
		id := strings.Fields(out)[0]
		if !strings.Contains(out, "blog.example.com") {
			t.Errorf("cert upload printed %q", out)
		}
		if out := mustCLI(t, s.URL, "cert", "list", tok); !strings.Contains(out, id+" ") ||
			!strings.Contains(out, "blog.example.com") || !strings.Contains(out, "custom") {
			t.Errorf("cert list:\n%s", out)
		}
		var list []struct {
			ID     int64    `json:"id"`
			Names  []string `json:"names"`
			Source string   `json:"source"`
			Issuer string   `json:"issuer"`
		}
		if err := json.Unmarshal(s.Want(200, tu.Admin, "GET", "/api/v1/certificates", nil).Body, &list); err != nil ||
			len(list) != 2 || list[0].Source != "custom" || list[0].Issuer != "blog.example.com" ||
			list[1].Source != "internal" || list[1].Names[0] != "nas.home.arpa" || list[1].Issuer != "StackHub Internal Root CA" {
			t.Errorf("list = %+v, %v", list, err)
		}
		if _, errOut, code := runCLI(t, s.URL, "cert", "upload", cf, cf, tok); code == 0 || !strings.Contains(errOut, "private key") {
			t.Errorf("upload with the certificate as key: exit %d, %s", code, errOut)
		}
		mustCLI(t, s.URL, "cert", "remove", id, tok)
		if _, errOut, code := runCLI(t, s.URL, "cert", "remove", id, tok); code == 0 || !strings.Contains(errOut, "no uploaded certificate") {
			t.Errorf("second remove: exit %d, %s", code, errOut)
		}
		if s.Certs.Covers("blog.example.com") {
			t.Errorf("still covered after remove")
		}
	})
}
