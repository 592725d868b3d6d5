package certs_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"testing"
	"time"

	"github.com/stackhub/stackhub/internal/certs"
	"github.com/stackhub/stackhub/internal/events"
	"github.com/stackhub/stackhub/internal/store"
	"github.com/stackhub/stackhub/internal/testutil"
	"github.com/stackhub/stackhub/internal/testutil/acmetest"
)

// newManager starts a Manager on st that gets its certificates from Pebble p; opt adjusts its options.
func newManager(t *testing.T, st *store.Store, p *acmetest.Pebble, bus *events.Bus, opt ...func(*certs.Options)) *certs.Manager {
	t.Helper()
	o := certs.Options{Store: st, Bus: bus, Logger: testutil.Logger(t), Directory: p.DirectoryURL, Roots: p.ServerRoots,
		HTTPPort: p.HTTPPort, TLSPort: p.TLSPort, RenewCheckInterval: time.Second, Profile: acmetest.DefaultProfile,
		DNS: &certs.RFC2136{Nameserver: p.DNS.Addr, KeyName: p.DNS.KeyName, Secret: p.DNS.KeySecret,
			Algorithm: p.DNS.Algorithm},
		DNSResolvers: []string{p.DNS.Addr}}
	for _, f := range opt {
		f(&o)
	}
	m, err := certs.New(context.Background(), o)
	if err != nil {
		t.Fatalf("new manager: %v", err)
	}
	t.Cleanup(m.Close)
	return m
}

// eventWatch collects the events of a bus.
type eventWatch struct {
	ch   chan events.Event
	seen []events.Event // received, not yet waited for
}

func watch(t *testing.T, bus *events.Bus) *eventWatch {
	w := &eventWatch{ch: make(chan events.Event, 100)}
	t.Cleanup(bus.Subscribe(func(e events.Event) {
		select {
		case w.ch <- e:
		default:
		}
	}))
	return w
}

// wait returns the first event of type typ about name, failing after a minute (a guard against hangs).
func (w *eventWatch) wait(t *testing.T, typ, name string) certs.Event {
	t.Helper()
	match := func(e events.Event) (certs.Event, bool) {
		ce, ok := e.Payload.(certs.Event)
		if !ok || e.Type != typ || ce.Name != name {
			return ce, false
		}
		if !e.AdminOnly {
			t.Errorf("%s event is not admin only", typ)
		}
		return ce, true
	}
	for i, e := range w.seen {
		if ce, ok := match(e); ok {
			w.seen = append(w.seen[:i], w.seen[i+1:]...)
			return ce
		}
	}
	deadline := time.After(time.Minute)
	for {
		select {
		case e := <-w.ch:
			if ce, ok := match(e); ok {
				return ce
			}
			w.seen = append(w.seen, e)
		case <-deadline:
			t.Fatalf("no %s event for %s within a minute", typ, name)
		}
	}
}

// serveTLS serves cfg on a loopback listener and returns its address.
func serveTLS(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.(*tls.Conn).Handshake()
			}()
		}
	}()
	return ln.Addr().String()
}

// handshake connects to addr as name, trusting only roots, and returns the verified leaf.
func handshake(addr, name string, roots *x509.CertPool) (*x509.Certificate, error) {
	d := &net.Dialer{Timeout: 30 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{ServerName: name, RootCAs: roots})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0], nil
}

// mustHandshake is handshake that fails the test.
func mustHandshake(t *testing.T, addr, name string, roots *x509.CertPool) *x509.Certificate {
	t.Helper()
	leaf, err := handshake(addr, name, roots)
	if err != nil {
		t.Fatalf("handshake as %s: %v", name, err)
	}
	return leaf
}
