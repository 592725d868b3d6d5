package certs

import (
	"fmt"
	"time"

	"github.com/stackhub/stackhub/internal/events"
)

// Event is the payload of the certificate.* events.
type Event struct {
	Name   string `json:"name"`
	Source string `json:"source"`           // acme or internal
	Issuer string `json:"issuer,omitempty"` // certmagic's issuer key: the ACME directory, or stackhub-internal
	Error  string `json:"error,omitempty"`  // certificate.failed: why
}

// onEvent turns src's certmagic's events into the bus's certificate.* events and keeps each name's last error.
func (m *Manager) onEvent(src *managed, source, event string, data map[string]any) {
	name, _ := data["identifier"].(string)
	renewal, _ := data["renewal"].(bool)
	ev := Event{Name: name, Source: source}
	ev.Issuer, _ = data["issuer"].(string)
	var typ string
	switch event {
	case "cert_obtained":
		typ = events.CertificateObtained
		if renewal {
			typ = events.CertificateRenewed
		}
		m.setErr(name, "")
		if !renewal {
			// certmagic caches a new certificate only after this event; cache it now, so that a handshake that
			// follows the event is served (a renewal replaces the cached one by itself).
			if _, err := src.bg.CacheManagedCertificate(m.ctx, name); err != nil {
				m.log.Warn("could not cache the new certificate", "name", name, "err", err)
			}
		}
		m.log.Info("certificate "+map[bool]string{false: "obtained", true: "renewed"}[renewal], "name", name, "source", source)
	case "cert_failed":
		typ = events.CertificateFailed
		ev.Error = fmt.Sprint(data["error"])
		m.setErr(name, ev.Error)
		m.log.Warn("certificate failed", "name", name, "source", source, "renewal", renewal, "err", ev.Error)
	default:
		return
	}
	if m.bus != nil {
		m.bus.Publish(events.Event{Type: typ, Time: time.Now(), AdminOnly: true, Payload: ev})
	}
}
