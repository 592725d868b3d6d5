package acmetest

import (
	"fmt"
	"net"
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// DNS is an authoritative DNS server on loopback for one zone, over UDP and TCP on one port (Pebble's validator
// asks over TCP): every name in the zone has A 127.0.0.1, and TXT records come and go through RFC 2136 updates
// signed with the TSIG key (as DNS-01 needs).
type DNS struct {
	Addr      string // 127.0.0.1:port
	Zone      string // "stackhub.test."
	KeyName   string // the TSIG key's name
	KeySecret string // base64
	Algorithm string // hmac-sha256

	mu      sync.Mutex
	txt     map[string][]string // fqdn → texts
	updates int
	servers []*dns.Server
}

// StartDNS starts the server for zone with a TSIG key.
func StartDNS(zone, keyName, secret string) (*DNS, error) {
	d := &DNS{Zone: dns.Fqdn(zone), KeyName: dns.Fqdn(keyName), KeySecret: secret, Algorithm: "hmac-sha256",
		txt: map[string][]string{}}
	tsig := map[string]string{d.KeyName: secret}
	// One port for both: take it with TCP, then UDP on the same number.
	for range 20 {
		tl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		pc, err := net.ListenPacket("udp", tl.Addr().String())
		if err != nil {
			tl.Close()
			continue
		}
		d.Addr = tl.Addr().String()
		d.servers = []*dns.Server{
			{Listener: tl, Handler: d, TsigSecret: tsig, MsgAcceptFunc: acceptUpdates},
			{PacketConn: pc, Handler: d, TsigSecret: tsig, MsgAcceptFunc: acceptUpdates},
		}
		for _, s := range d.servers {
			started := make(chan struct{})
			s.NotifyStartedFunc = func() { close(started) }
			go func() { _ = s.ActivateAndServe() }()
			<-started
		}
		return d, nil
	}
	return nil, fmt.Errorf("no free port for both TCP and UDP")
}

// Close stops the server.
func (d *DNS) Close() {
	for _, s := range d.servers {
		_ = s.Shutdown()
	}
}

// Updates counts the accepted RFC 2136 updates.
func (d *DNS) Updates() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.updates
}

func (d *DNS) inZone(name string) bool {
	return dns.IsSubDomain(d.Zone, dns.Fqdn(strings.ToLower(name)))
}

func (d *DNS) soa() dns.RR {
	return &dns.SOA{Hdr: dns.RR_Header{Name: d.Zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 60},
		Ns: "ns." + d.Zone, Mbox: "admin." + d.Zone, Serial: 1, Refresh: 60, Retry: 60, Expire: 600, Minttl: 1}
}

// ServeDNS answers queries and applies signed updates.
func (d *DNS) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	if r.Opcode == dns.OpcodeUpdate {
		d.update(w, r, m)
		return
	}
	if len(r.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		_ = w.WriteMsg(m)
		return
	}
	q := r.Question[0]
	name := strings.ToLower(q.Name)
	if !d.inZone(name) {
		m.Rcode = dns.RcodeNameError
		_ = w.WriteMsg(m)
		return
	}
	hdr := dns.RR_Header{Name: q.Name, Class: dns.ClassINET, Ttl: 1}
	switch q.Qtype {
	case dns.TypeA:
		hdr.Rrtype = dns.TypeA
		m.Answer = append(m.Answer, &dns.A{Hdr: hdr, A: net.IPv4(127, 0, 0, 1)})
	case dns.TypeSOA:
		if name == d.Zone {
			m.Answer = append(m.Answer, d.soa())
		}
	case dns.TypeTXT:
		hdr.Rrtype = dns.TypeTXT
		d.mu.Lock()
		for _, t := range d.txt[name] {
			m.Answer = append(m.Answer, &dns.TXT{Hdr: hdr, Txt: []string{t}})
		}
		d.mu.Unlock()
	}
	if len(m.Answer) == 0 {
		m.Ns = append(m.Ns, d.soa())
	}
	_ = w.WriteMsg(m)
}

func (d *DNS) update(w dns.ResponseWriter, r *dns.Msg, m *dns.Msg) {
	if r.IsTsig() == nil || w.TsigStatus() != nil || !strings.EqualFold(r.IsTsig().Hdr.Name, d.KeyName) {
		m.Rcode = dns.RcodeRefused
		_ = w.WriteMsg(m)
		return
	}
	if len(r.Question) != 1 || !strings.EqualFold(dns.Fqdn(r.Question[0].Name), d.Zone) {
		m.Rcode = dns.RcodeNotAuth
		_ = w.WriteMsg(m)
		return
	}
	d.mu.Lock()
	for _, rr := range r.Ns {
		t, ok := rr.(*dns.TXT)
		name := strings.ToLower(rr.Header().Name)
		switch {
		case !d.inZone(name):
			continue
		case rr.Header().Class == dns.ClassANY: // delete the RRset
			delete(d.txt, name)
		case !ok:
			continue
		case rr.Header().Class == dns.ClassNONE: // delete one record
			text := strings.Join(t.Txt, "")
			var keep []string
			for _, v := range d.txt[name] {
				if v != text {
					keep = append(keep, v)
				}
			}
			d.txt[name] = keep
		default:
			d.txt[name] = append(d.txt[name], strings.Join(t.Txt, ""))
		}
	}
	d.updates++
	d.mu.Unlock()
	m.SetTsig(d.KeyName, dns.HmacSHA256, 300, int64(r.IsTsig().TimeSigned))
	_ = w.WriteMsg(m)
}

// acceptUpdates lets UPDATE messages through, which miekg/dns's default refuses as not implemented.
func acceptUpdates(dh dns.Header) dns.MsgAcceptAction {
	if int(dh.Bits>>11)&0xF == dns.OpcodeUpdate {
		return dns.MsgAccept
	}
	return dns.DefaultMsgAcceptFunc(dh)
}
