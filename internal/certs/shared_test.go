package certs_test

import (
	"context"
	"testing"

	"github.com/stackhub/stackhub/internal/certs"
	"github.com/stackhub/stackhub/internal/events"
	"github.com/stackhub/stackhub/internal/testutil"
	"github.com/stackhub/stackhub/internal/testutil/acmetest"
)

// A certificate of the short-lived profile is renewed in the background, and the new one is served without a
// restart.
func TestRenewal(t *testing.T) {
	p := acmetest.Shared(t)
	testutil.ForEachEngine(t, func(t *testing.T, e testutil.Engine) {
		ctx := context.Background()
		bus := events.NewBus()
		evs := watch(t, bus)
		m := newManager(t, testutil.OpenStore(t, e), p, bus, func(o *certs.Options) { o.Profile = acmetest.ShortProfile })
		p.Serve(t, m.HTTPChallengeHandler(nil), m.TLSConfig())
		name := acmetest.Name("renew")
		if err := m.Sync(ctx, map[string]string{name: certs.ModeAuto}); err != nil {
			t.Fatal(err)
		}
		evs.wait(t, events.CertificateObtained, name)
		addr := serveTLS(t, m.TLSConfig())
		first := mustHandshake(t, addr, name, p.IssuerRoots())
		if life := first.NotAfter.Sub(first.NotBefore); life > acmetest.ShortLifetime {
			t.Fatalf("the short-lived profile gave a certificate valid %s", life)
		}
		evs.wait(t, events.CertificateRenewed, name)
		// The renewal is stored before its event; the cache swaps the certificate right after.
		acmetest.WaitFor(ctx, t, "the renewed certificate to be served", func() bool {
			leaf, err := handshake(addr, name, p.IssuerRoots())
			return err == nil && leaf.SerialNumber.Cmp(first.SerialNumber) != 0
		})
	})
}

// A new Manager on the same database (a restart) serves the stored certificate without a new order.
func TestRestartReusesStored(t *testing.T) {
	p := acmetest.Shared(t)
	testutil.ForEachEngine(t, func(t *testing.T, e testutil.Engine) {
		ctx := context.Background()
		st := testutil.OpenStore(t, e)
		bus := events.NewBus()
		evs := watch(t, bus)
		m := newManager(t, st, p, bus)
		p.Serve(t, m.HTTPChallengeHandler(nil), m.TLSConfig())
		name := acmetest.Name("restart")
		if err := m.Sync(ctx, map[string]string{name: certs.ModeAuto}); err != nil {
			t.Fatal(err)
		}
		evs.wait(t, events.CertificateObtained, name)
		first := mustHandshake(t, serveTLS(t, m.TLSConfig()), name, p.IssuerRoots())
		m.Close()

		orders := p.Orders()
		m2 := newManager(t, st, p, nil)
		if err := m2.Sync(ctx, map[string]string{name: certs.ModeAuto}); err != nil {
			t.Fatal(err)
		}
		again := mustHandshake(t, serveTLS(t, m2.TLSConfig()), name, p.IssuerRoots())
		if again.SerialNumber.Cmp(first.SerialNumber) != 0 {
			t.Errorf("after the restart a different certificate is served")
		}
		if got := p.Orders(); got != orders {
			t.Errorf("the restart placed %d new orders", got-orders)
		}
	})
}

// Two Managers on one database (two StackHub processes) asked for the same name at once obtain one certificate
// between them, and both serve it.
func TestTwoManagersOneOrder(t *testing.T) {
	p := acmetest.Shared(t)
	testutil.ForEachEngine(t, func(t *testing.T, e testutil.Engine) {
		ctx := context.Background()
		st := testutil.OpenStore(t, e)
		bus := events.NewBus()
		evs := watch(t, bus)
		a, b := newManager(t, st, p, bus), newManager(t, st, p, bus)
		// Only a's listeners are reachable; b's challenges are answered from the shared storage.
		p.Serve(t, a.HTTPChallengeHandler(nil), a.TLSConfig())
		name := acmetest.Name("twice")
		orders := p.Orders()
		names := map[string]string{name: certs.ModeAuto}
		if err := a.Sync(ctx, names); err != nil {
			t.Fatal(err)
		}
		if err := b.Sync(ctx, names); err != nil {
			t.Fatal(err)
		}
		evs.wait(t, events.CertificateObtained, name)
		la := mustHandshake(t, serveTLS(t, a.TLSConfig()), name, p.IssuerRoots())
		baddr := serveTLS(t, b.TLSConfig())
		acmetest.WaitFor(ctx, t, "the second manager to serve the certificate", func() bool {
			lb, err := handshake(baddr, name, p.IssuerRoots())
			return err == nil && lb.SerialNumber.Cmp(la.SerialNumber) == 0
		})
		if got := p.Orders() - orders; got != 1 {
			t.Errorf("two managers placed %d orders, want 1", got)
		}
	})
}
