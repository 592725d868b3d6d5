package certs_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/certs"
	"github.com/stackhub/stackhub/internal/events"
	"github.com/stackhub/stackhub/internal/testutil"
	"github.com/stackhub/stackhub/internal/testutil/acmetest"
)

var admin = auth.Actor{Admin: true, Enabled: true}

// testCert is a certificate chain (leaf, CA) and key in PEM, with the pool that trusts it.
type testCert struct {
	certPEM, keyPEM string
	roots           *x509.CertPool
}

// makeCert signs a leaf for names valid from nb to na under a fresh CA.
func makeCert(t *testing.T, names []string, nb, na time.Time) testCert {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test Upload CA"},
		NotBefore: nb.Add(-time.Hour), NotAfter: na.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: names[0]},
		NotBefore: nb, NotAfter: na, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return testCert{
		certPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})) +
			string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})),
		keyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})),
		roots:  pool,
	}
}

// An uploaded certificate is checked (four refusals, each naming its field), stored, served for the names it
// covers in preference to ACME, listed, and gone after Delete.
func TestUpload(t *testing.T) {
	p := acmetest.Shared(t)
	testutil.ForEachEngine(t, func(t *testing.T, e testutil.Engine) {
		ctx := context.Background()
		st := testutil.OpenStore(t, e)
		m := newManager(t, st, p, nil)
		now := time.Now()
		base := acmetest.Name("up")
		good := makeCert(t, []string{"*." + base, base}, now.Add(-time.Hour), now.Add(48*time.Hour))
		other := makeCert(t, []string{base}, now.Add(-time.Hour), now.Add(48*time.Hour))
		expired := makeCert(t, []string{base}, now.Add(-48*time.Hour), now.Add(-time.Hour))
		for _, c := range []struct{ name, cert, key, field, says string }{
			{"key mismatch", good.certPEM, other.keyPEM, "key_pem", "does not match"},
			{"chain does not parse", good.certPEM + "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n",
				good.keyPEM, "cert_pem", "does not parse"},
			{"no certificate", "hello", good.keyPEM, "cert_pem", "no PEM certificate"},
			{"expired", expired.certPEM, expired.keyPEM, "cert_pem", "expired"},
		} {
			_, err := m.Upload(ctx, admin, c.cert, c.key)
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Kind != apperr.Invalid || ae.Field != c.field || !strings.Contains(ae.Message, c.says) {
				t.Errorf("%s: err = %v, want Invalid on %s saying %q", c.name, err, c.field, c.says)
			}
		}
		if list, err := m.List(ctx, admin); err != nil || len(list) != 0 {
			t.Fatalf("a refused upload left %v, %v", list, err)
		}

		if m.Covers("app." + base) {
			t.Fatal("covered before the upload")
		}
		up, err := m.Upload(ctx, admin, good.certPEM, good.keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		if up.ID == 0 || up.Source != certs.SourceCustom || up.Issuer != "Test Upload CA" || len(up.Names) != 2 {
			t.Errorf("uploaded = %+v", up)
		}
		if !m.Covers("app."+base) || !m.Covers(base) || !m.Covers("*."+base) || m.Covers("a.b."+base) {
			t.Errorf("Covers does not follow the certificate's names")
		}
		// Preferred over ACME: the name is also given as auto, but the uploaded certificate is served.
		if err := m.Sync(ctx, map[string]string{"app." + base: certs.ModeCustom, base: certs.ModeAuto}); err != nil {
			t.Fatal(err)
		}
		addr := serveTLS(t, m.TLSConfig())
		for _, n := range []string{"app." + base, base} {
			if leaf := mustHandshake(t, addr, n, good.roots); leaf.Issuer.CommonName != "Test Upload CA" {
				t.Errorf("%s served by %s", n, leaf.Issuer.CommonName)
			}
		}
		// Another Manager on the same database (another StackHub) serves it too.
		m2 := newManager(t, st, p, nil)
		if !m2.Covers(base) {
			t.Errorf("the second manager does not see the uploaded certificate")
		}
		if err := m.Delete(ctx, admin, up.ID); err != nil {
			t.Fatal(err)
		}
		if m.Covers(base) {
			t.Errorf("still covered after Delete")
		}
		var ae *apperr.Error
		if err := m.Delete(ctx, admin, up.ID); !errors.As(err, &ae) || ae.Kind != apperr.NotFound {
			t.Errorf("second Delete = %v, want NotFound", err)
		}
	})
}

// A name with mode internal is served a leaf of StackHub's own CA, which verifies against its root; the root is
// generated once per database: a second Manager has the same.
func TestInternalCA(t *testing.T) {
	p := acmetest.Shared(t)
	testutil.ForEachEngine(t, func(t *testing.T, e testutil.Engine) {
		ctx := context.Background()
		st := testutil.OpenStore(t, e)
		bus := events.NewBus()
		evs := watch(t, bus)
		m := newManager(t, st, p, bus)
		orders := p.Orders()
		if err := m.Sync(ctx, map[string]string{"nas.lan": certs.ModeInternal, "127.0.0.1": certs.ModeInternal}); err != nil {
			t.Fatal(err)
		}
		evs.wait(t, events.CertificateObtained, "nas.lan")
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(m.RootPEM()) {
			t.Fatalf("RootPEM is not PEM: %q", m.RootPEM())
		}
		addr := serveTLS(t, m.TLSConfig())
		leaf := mustHandshake(t, addr, "nas.lan", roots)
		if leaf.DNSNames[0] != "nas.lan" || leaf.Issuer.CommonName != "StackHub Internal Root CA" {
			t.Errorf("served %v by %s", leaf.DNSNames, leaf.Issuer.CommonName)
		}
		evs.wait(t, events.CertificateObtained, "127.0.0.1")
		if leaf := mustHandshake(t, addr, "127.0.0.1", roots); len(leaf.IPAddresses) != 1 {
			t.Errorf("IP leaf = %v", leaf.IPAddresses)
		}
		if st, ok := m.Status("nas.lan"); !ok || st.Source != certs.SourceInternal || st.NextRenewal == nil {
			t.Errorf("status = %+v, %v", st, ok)
		}
		if p.Orders() != orders {
			t.Errorf("an internal name went to the ACME server")
		}
		if string(newManager(t, st, p, nil).RootPEM()) != string(m.RootPEM()) {
			t.Errorf("a second manager on the same database made another root")
		}
	})
}
