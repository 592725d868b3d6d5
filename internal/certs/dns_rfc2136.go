package certs

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/libdns/libdns"
	"github.com/miekg/dns"
)

// RFC2136 is a DNS provider that adds and removes records with RFC 2136 dynamic updates signed with TSIG, as BIND,
// Knot, PowerDNS and Technitium accept. (github.com/libdns/rfc2136 is not served by the module proxy here; this is
// the small part of it certmagic needs, on github.com/miekg/dns.)
type RFC2136 struct {
	Nameserver string // host:port; port 53 when missing
	KeyName    string // the TSIG key's name
	Secret     string // base64, as BIND's tsig-keygen prints it
	Algorithm  string // hmac-sha256 (default), hmac-sha512, hmac-sha1, …
}

// AppendRecords adds recs to zone.
func (p *RFC2136) AppendRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	return p.update(ctx, zone, recs, false)
}

// DeleteRecords removes recs from zone.
func (p *RFC2136) DeleteRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	return p.update(ctx, zone, recs, true)
}

func (p *RFC2136) update(ctx context.Context, zone string, recs []libdns.Record, remove bool) ([]libdns.Record, error) {
	zone = dns.Fqdn(zone)
	m := new(dns.Msg)
	m.SetUpdate(zone)
	var rrs []dns.RR
	for _, r := range recs {
		rr := r.RR()
		ttl := int(rr.TTL.Seconds())
		if ttl <= 0 {
			ttl = 60
		}
		name := libdns.AbsoluteName(rr.Name, zone)
		text := fmt.Sprintf("%s %d IN %s %s", dns.Fqdn(name), ttl, rr.Type, quoteData(rr))
		d, err := dns.NewRR(text)
		if err != nil {
			return nil, fmt.Errorf("rfc2136: record %s %s: %w", rr.Name, rr.Type, err)
		}
		rrs = append(rrs, d)
	}
	if remove {
		m.Remove(rrs)
	} else {
		m.Insert(rrs)
	}
	c := &dns.Client{Net: "tcp", Timeout: 30 * time.Second}
	if p.KeyName != "" {
		key := dns.Fqdn(p.KeyName)
		c.TsigSecret = map[string]string{key: p.Secret}
		m.SetTsig(key, tsigAlgorithm(p.Algorithm), 300, time.Now().Unix())
	}
	in, _, err := c.ExchangeContext(ctx, m, nameserverAddr(p.Nameserver))
	if err != nil {
		return nil, fmt.Errorf("rfc2136: update %s at %s: %w", zone, p.Nameserver, err)
	}
	if in.Rcode != dns.RcodeSuccess {
		return nil, fmt.Errorf("rfc2136: update %s at %s: %s", zone, p.Nameserver, dns.RcodeToString[in.Rcode])
	}
	return recs, nil
}

// quoteData renders a record's data for the zone-file parser: TXT text is quoted.
func quoteData(rr libdns.RR) string {
	if rr.Type == "TXT" && !strings.HasPrefix(rr.Data, `"`) {
		return `"` + strings.ReplaceAll(rr.Data, `"`, `\"`) + `"`
	}
	return rr.Data
}

func tsigAlgorithm(name string) string {
	switch strings.ToLower(strings.TrimSuffix(name, ".")) {
	case "hmac-sha1":
		return dns.HmacSHA1
	case "hmac-sha224":
		return dns.HmacSHA224
	case "hmac-sha384":
		return dns.HmacSHA384
	case "hmac-sha512":
		return dns.HmacSHA512
	default:
		return dns.HmacSHA256
	}
}

func nameserverAddr(ns string) string {
	if _, _, err := net.SplitHostPort(ns); err == nil {
		return ns
	}
	return net.JoinHostPort(strings.Trim(ns, "[]"), "53")
}
