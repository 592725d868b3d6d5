package certs_test

import (
	"context"
	"testing"

	"github.com/stackhub/stackhub/internal/certs"
	"github.com/stackhub/stackhub/internal/events"
	"github.com/stackhub/stackhub/internal/testutil"
	"github.com/stackhub/stackhub/internal/testutil/acmetest"
)

// A name Sync gives with mode auto gets a certificate from the ACME server in the background, through each
// challenge alone, and the manager's TLSConfig serves it to a client that trusts only the ACME server's root.
// A name Sync did not give gets no certificate and no order.
func TestObtainACME(t *testing.T) {
	p := acmetest.Shared(t)
	for _, c := range []struct {
		challenge string
		opt       func(*certs.Options)
	}{
		{"http-01", func(o *certs.Options) { o.DisableTLSALPNChallenge = true }},
		{"tls-alpn-01", func(o *certs.Options) { o.DisableHTTPChallenge = true }},
	} {
		t.Run(c.challenge, func(t *testing.T) {
			testutil.ForEachEngine(t, func(t *testing.T, e testutil.Engine) {
				ctx := context.Background()
				bus := events.NewBus()
				evs := watch(t, bus)
				m := newManager(t, testutil.OpenStore(t, e), p, bus, c.opt)
				p.Serve(t, m.HTTPChallengeHandler(nil), m.TLSConfig())
				name := acmetest.Name(c.challenge)
				if err := m.Sync(ctx, map[string]string{name: certs.ModeAuto}); err != nil {
					t.Fatal(err)
				}
				ev := evs.wait(t, events.CertificateObtained, name)
				if ev.Source != certs.SourceACME {
					t.Errorf("event = %+v", ev)
				}
				addr := serveTLS(t, m.TLSConfig())
				leaf := mustHandshake(t, addr, name, p.IssuerRoots())
				if leaf.DNSNames[0] != name {
					t.Errorf("served %v, want %s", leaf.DNSNames, name)
				}
				st, ok := m.Status(name)
				if !ok || st.Source != certs.SourceACME || st.NotAfter == nil || !st.NotAfter.Equal(leaf.NotAfter) ||
					st.NextRenewal == nil || st.LastError != "" {
					t.Errorf("status = %+v, %v", st, ok)
				}

				orders := p.Orders()
				stranger := acmetest.Name("stranger")
				if _, err := handshake(addr, stranger, p.IssuerRoots()); err == nil {
					t.Errorf("a name Sync did not give got a certificate")
				}
				if got := p.Orders(); got != orders {
					t.Errorf("an unknown SNI name caused %d orders", got-orders)
				}
				if _, ok := m.Status(stranger); ok {
					t.Errorf("status of an unknown name")
				}
			})
		})
	}
}

// A wildcard name is obtained through DNS-01: the TXT record goes to the DNS server by RFC 2136 with TSIG, and
// the certificate serves any one label under it.
func TestWildcardDNS01(t *testing.T) {
	p := acmetest.Shared(t)
	testutil.ForEachEngine(t, func(t *testing.T, e testutil.Engine) {
		ctx := context.Background()
		bus := events.NewBus()
		evs := watch(t, bus)
		m := newManager(t, testutil.OpenStore(t, e), p, bus)
		updates := p.DNS.Updates()
		base := acmetest.Name("wild")
		wild := "*." + base
		if err := m.Sync(ctx, map[string]string{wild: certs.ModeAuto}); err != nil {
			t.Fatal(err)
		}
		evs.wait(t, events.CertificateObtained, wild)
		if p.DNS.Updates() <= updates {
			t.Errorf("no RFC 2136 update reached the DNS server")
		}
		leaf := mustHandshake(t, serveTLS(t, m.TLSConfig()), "app."+base, p.IssuerRoots())
		if leaf.DNSNames[0] != wild {
			t.Errorf("served %v, want %s", leaf.DNSNames, wild)
		}
	})
}

// Without a DNS provider a wildcard is not requested: its status says why.
func TestWildcardWithoutDNSProvider(t *testing.T) {
	p := acmetest.Shared(t)
	testutil.ForEachEngine(t, func(t *testing.T, e testutil.Engine) {
		m := newManager(t, testutil.OpenStore(t, e), p, nil, func(o *certs.Options) { o.DNS = nil })
		orders := p.Orders()
		wild := "*." + acmetest.Name("nodns")
		if err := m.Sync(context.Background(), map[string]string{wild: certs.ModeAuto}); err != nil {
			t.Fatal(err)
		}
		st, ok := m.Status(wild)
		if !ok || st.LastError == "" || st.NotAfter != nil {
			t.Errorf("status = %+v, %v; want the missing provider named", st, ok)
		}
		if p.Orders() != orders {
			t.Errorf("a wildcard without DNS-01 was ordered")
		}
	})
}

// A challenge nobody answers fails, and the failure is an event and the name's last error.
func TestObtainFails(t *testing.T) {
	p := acmetest.Shared(t)
	testutil.ForEachEngine(t, func(t *testing.T, e testutil.Engine) {
		bus := events.NewBus()
		evs := watch(t, bus)
		// Nothing serves the validation ports (no p.Serve), so both challenges fail.
		m := newManager(t, testutil.OpenStore(t, e), p, bus)
		name := acmetest.Name("fails")
		if err := m.Sync(context.Background(), map[string]string{name: certs.ModeAuto}); err != nil {
			t.Fatal(err)
		}
		ev := evs.wait(t, events.CertificateFailed, name)
		if ev.Error == "" {
			t.Errorf("failed event without its error: %+v", ev)
		}
		if st, _ := m.Status(name); st.LastError == "" {
			t.Errorf("status = %+v, want the last error", st)
		}
		// A name no longer given is forgotten: its retries stop and it has no status.
		if err := m.Sync(context.Background(), map[string]string{}); err != nil {
			t.Fatal(err)
		}
		if st, ok := m.Status(name); ok {
			t.Errorf("status after removal = %+v", st)
		}
	})
}
