package certs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/libdns/libdns"
)

// Cloudflare is a DNS provider on Cloudflare's v4 API with an API token (Zone:DNS:Edit). (github.com/libdns/cloudflare
// is not served by the module proxy here; certmagic needs only three calls: find the zone, add a record, delete it.)
type Cloudflare struct {
	APIToken string
	BaseURL  string // default https://api.cloudflare.com/client/v4
	Client   *http.Client
}

type cfRecord struct {
	ID      string `json:"id,omitempty"`
	Type    string `json:"type"`
	Name    string `json:"name"`
	Content string `json:"content"`
	TTL     int    `json:"ttl"`
}

type cfAnswer struct {
	Success bool                       `json:"success"`
	Errors  []struct{ Message string } `json:"errors"`
	Result  json.RawMessage            `json:"result"`
}

// AppendRecords adds recs to zone.
func (p *Cloudflare) AppendRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	zid, err := p.zoneID(ctx, zone)
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		rr := r.RR()
		ttl := int(rr.TTL.Seconds())
		if ttl < 60 {
			ttl = 1 // automatic
		}
		rec := cfRecord{Type: rr.Type, Name: cfName(rr.Name, zone), Content: rr.Data, TTL: ttl}
		if err := p.call(ctx, http.MethodPost, "/zones/"+zid+"/dns_records", rec, nil); err != nil {
			return nil, err
		}
	}
	return recs, nil
}

// DeleteRecords removes the records of zone that match recs by name, type and content.
func (p *Cloudflare) DeleteRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	zid, err := p.zoneID(ctx, zone)
	if err != nil {
		return nil, err
	}
	var deleted []libdns.Record
	for _, r := range recs {
		rr := r.RR()
		q := url.Values{"type": {rr.Type}, "name": {cfName(rr.Name, zone)}}
		var found []cfRecord
		if err := p.call(ctx, http.MethodGet, "/zones/"+zid+"/dns_records?"+q.Encode(), nil, &found); err != nil {
			return deleted, err
		}
		for _, f := range found {
			if rr.Data != "" && strings.Trim(f.Content, `"`) != strings.Trim(rr.Data, `"`) {
				continue
			}
			if err := p.call(ctx, http.MethodDelete, "/zones/"+zid+"/dns_records/"+f.ID, nil, nil); err != nil {
				return deleted, err
			}
			deleted = append(deleted, r)
		}
	}
	return deleted, nil
}

func (p *Cloudflare) zoneID(ctx context.Context, zone string) (string, error) {
	var zones []struct{ ID string }
	name := strings.TrimSuffix(zone, ".")
	if err := p.call(ctx, http.MethodGet, "/zones?name="+url.QueryEscape(name), nil, &zones); err != nil {
		return "", err
	}
	if len(zones) == 0 {
		return "", fmt.Errorf("cloudflare: no zone %s for this API token", name)
	}
	return zones[0].ID, nil
}

func (p *Cloudflare) call(ctx context.Context, method, path string, body, result any) error {
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	base := p.BaseURL
	if base == "" {
		base = "https://api.cloudflare.com/client/v4"
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return fmt.Errorf("cloudflare: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+p.APIToken)
	req.Header.Set("Content-Type", "application/json")
	c := p.Client
	if c == nil {
		c = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("cloudflare: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	var a cfAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		return fmt.Errorf("cloudflare: %s %s: HTTP %d: %w", method, path, resp.StatusCode, err)
	}
	if !a.Success {
		msg := fmt.Sprintf("HTTP %d", resp.StatusCode)
		if len(a.Errors) > 0 {
			msg += ": " + a.Errors[0].Message
		}
		return fmt.Errorf("cloudflare: %s %s: %s", method, path, msg)
	}
	if result != nil {
		return json.Unmarshal(a.Result, result)
	}
	return nil
}

// cfName is a record's full name as Cloudflare writes it: without the final dot.
func cfName(name, zone string) string {
	return strings.TrimSuffix(libdns.AbsoluteName(name, zone), ".")
}
