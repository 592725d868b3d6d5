// Command edge is StackHub's edge benchmark (issue 11, docs/edge.md): one small app (bench/baseline) served
// directly on its port, through StackHub's edge (internal/edge, in a process of its own, with a certificate) and
// through Caddy as a reverse proxy with the same certificate, loaded one after the other in one run over HTTPS
// keep-alive; then new TLS handshakes per second against the edge and Caddy. See bench/README.md.
//
// Run it with bench/edge/run.sh, which builds Caddy outside StackHub's module and passes -caddy.
package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/stackhub/stackhub/bench/internal/serve"
)

// benchName is the app's name on the edge and in Caddy's site block, and the certificate's only name.
const benchName = "app.bench.test"

func main() {
	// The -serve-edge mode is this binary run again as the edge's own process.
	serveMode := flag.Bool("serve-edge", false, "internal: run StackHub's edge (with -db, -cert, -key, -listen, -upstream-port)")
	db := flag.String("db", "", "internal: the edge's SQLite file")
	certFile := flag.String("cert", "", "internal: certificate PEM")
	keyFile := flag.String("key", "", "internal: key PEM")
	listen := flag.String("listen", "127.0.0.1:0", "internal: the edge's HTTPS listen address")
	upPort := flag.Int("upstream-port", 0, "internal: the app's port")

	caddy := flag.String("caddy", "", "the caddy binary (empty: Caddy is left out, and the report says so)")
	caddyNote := flag.String("caddy-note", "", "why Caddy is missing, for the report")
	clients := flag.Int("clients", 50, "concurrent keep-alive connections")
	warmup := flag.Duration("warmup", 2*time.Second, "unrecorded warm-up per load")
	duration := flag.Duration("duration", 10*time.Second, "measured window per load")
	rounds := flag.Int("rounds", 3, "rounds: each loads every server once, in a rotating order")
	hsClients := flag.Int("hs-clients", 50, "concurrent handshaking clients")
	hsDuration := flag.Duration("hs-duration", 5*time.Second, "measured window per handshake run")
	size := flag.Int("size", 800, "the app's response body size in bytes")
	out := flag.String("out", "", "also write the report here")
	work := flag.String("work", "", "work directory (default: a new temp dir, removed at the end)")
	flag.Parse()

	if *serveMode {
		if err := serveEdge(*db, *certFile, *keyFile, *listen, *upPort); err != nil {
			fmt.Fprintln(os.Stderr, "edge:", err)
			os.Exit(1)
		}
		return
	}
	cfg := runConfig{caddy: *caddy, caddyNote: *caddyNote, clients: *clients, rounds: max(1, *rounds), warmup: *warmup, window: *duration,
		hsClients: *hsClients, hsWindow: *hsDuration, size: *size, work: *work}
	report, err := run(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/edge:", err)
		os.Exit(1)
	}
	fmt.Print(report)
	if *out != "" {
		if err := os.WriteFile(*out, []byte(report), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "bench/edge:", err)
			os.Exit(1)
		}
	}
}

type runConfig struct {
	caddy, caddyNote string
	clients, rounds  int
	warmup, window   time.Duration
	hsClients        int
	hsWindow         time.Duration
	size             int
	work             string
}

func run(cfg runConfig) (string, error) {
	ctx := context.Background()
	work := cfg.work
	if work == "" {
		d, err := os.MkdirTemp("", "stackhub-edge-bench-")
		if err != nil {
			return "", err
		}
		defer os.RemoveAll(d)
		work = d
	}
	root, err := serve.ModuleRoot(ctx)
	if err != nil {
		return "", err
	}
	certPEM, keyPEM := filepath.Join(work, "cert.pem"), filepath.Join(work, "key.pem")
	pool, err := makeCert(certPEM, keyPEM)
	if err != nil {
		return "", err
	}
	tc := &tls.Config{RootCAs: pool, ServerName: benchName}

	fmt.Fprintln(os.Stderr, "building bench/baseline (the app)")
	baseline := filepath.Join(work, "baseline")
	if err := serve.GoBuild(ctx, root, baseline, "./bench/baseline"); err != nil {
		return "", err
	}
	upPort, err := serve.FreePort()
	if err != nil {
		return "", err
	}
	up, upAddr, err := start("app", exec.Command(baseline, "-listen", "127.0.0.1:"+strconv.Itoa(upPort), "-size", strconv.Itoa(cfg.size)), work)
	if err != nil {
		return "", err
	}
	defer up.Stop()

	// The same app over TLS with the same certificate: not a target of the issue, but it splits the edge's cost
	// into TLS and the proxy hop.
	upTLS, upTLSAddr, err := start("app-tls", exec.Command(baseline, "-listen", "127.0.0.1:0", "-size",
		strconv.Itoa(cfg.size), "-cert", certPEM, "-key", keyPEM), work)
	if err != nil {
		return "", err
	}
	defer upTLS.Stop()

	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	eg, egAddr, err := start("edge", exec.Command(self, "-serve-edge", "-db", filepath.Join(work, "edge.db"),
		"-cert", certPEM, "-key", keyPEM, "-upstream-port", strconv.Itoa(upPort)), work)
	if err != nil {
		return "", err
	}
	defer eg.Stop()

	targets := []target{
		{Name: "direct (plain HTTP on the app's port)", URL: "http://" + benchName + "/", Addr: upAddr, PID: up.PID()},
		{Name: "direct over TLS (the app itself serving HTTPS)", URL: "https://" + benchName + "/", Addr: upTLSAddr, PID: upTLS.PID()},
		{Name: "StackHub edge (HTTPS)", URL: "https://" + benchName + "/", Addr: egAddr, PID: eg.PID()},
	}
	caddyVersion := ""
	if cfg.caddy != "" {
		cd, cdAddr, err := startCaddy(cfg.caddy, work, certPEM, keyPEM, upPort)
		if err != nil {
			return "", err
		}
		defer cd.Stop()
		targets = append(targets, target{Name: "Caddy (HTTPS)", URL: "https://" + benchName + "/", Addr: cdAddr, PID: cd.PID()})
		if b, err := exec.Command(cfg.caddy, "version").Output(); err == nil {
			caddyVersion = strings.TrimSpace(string(b))
		}
	}
	for _, t := range targets {
		if err := waitOK(t, tc); err != nil {
			return "", fmt.Errorf("%s does not answer: %w", t.Name, err)
		}
	}

	loadBefore := loadavg()
	lc := loadConfig{Clients: cfg.clients, Warmup: cfg.warmup, Window: cfg.window, TLS: tc, UpstreamPID: up.PID()}
	// The machine is shared: every round loads each server once, the order rotating from round to round, so a
	// burst of someone else's work does not always land on the same server; the report gives the medians.
	loads := make([][]loadResult, cfg.rounds) // [round][target]
	for i := range loads {
		loads[i] = make([]loadResult, len(targets))
		for k := range targets {
			j := (i + k) % len(targets)
			fmt.Fprintf(os.Stderr, "round %d: %s\n", i+1, targets[j].Name)
			loads[i][j] = runLoad(targets[j], lc)
		}
	}
	proxies := targets[2:]
	hss := make([][]handshakeResult, cfg.rounds) // [round][proxy]
	for i := range hss {
		hss[i] = make([]handshakeResult, len(proxies))
		for k := range proxies {
			j := (i + k) % len(proxies)
			fmt.Fprintf(os.Stderr, "round %d: handshakes, %s\n", i+1, proxies[j].Name)
			hss[i][j] = runHandshakes(proxies[j], cfg.hsClients, cfg.warmup, cfg.hsWindow, tc)
		}
	}
	loadAfter := loadavg()
	return report(cfg, loads, hss, caddyVersion, loadBefore, loadAfter), nil
}

// start runs cmd (a server that prints "listening <addr>" on stdout) with its stderr in work/<name>.log, and
// waits for that line.
func start(name string, cmd *exec.Cmd, work string) (*serve.Proc, string, error) {
	logf, err := os.Create(filepath.Join(work, name+".log"))
	if err != nil {
		return nil, "", err
	}
	cmd.Stderr = logf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	serve.DieWithParent(cmd, syscall.SIGTERM)
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("start %s: %w", name, err)
	}
	p := serve.Watch(cmd, name)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if err != nil || !ok {
		p.Stop()
		b, _ := os.ReadFile(logf.Name())
		return nil, "", fmt.Errorf("%s did not start (%q, %v): %s", name, line, err, b)
	}
	return p, addr, nil
}

// startCaddy runs caddy with a Caddyfile that serves benchName on a free loopback port with the benchmark's
// certificate and reverse_proxy to the app; no admin endpoint, no automatic HTTPS.
func startCaddy(bin, work, certPEM, keyPEM string, upPort int) (*serve.Proc, string, error) {
	port, err := serve.FreePort()
	if err != nil {
		return nil, "", err
	}
	conf := fmt.Sprintf(`{
	admin off
	auto_https off
	persist_config off
	storage file_system %s
}

https://%s:%d {
	bind 127.0.0.1
	tls %s %s
	reverse_proxy 127.0.0.1:%d
}
`, filepath.Join(work, "caddy-data"), benchName, port, certPEM, keyPEM, upPort)
	file := filepath.Join(work, "Caddyfile")
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		return nil, "", err
	}
	logf, err := os.Create(filepath.Join(work, "caddy.log"))
	if err != nil {
		return nil, "", err
	}
	cmd := exec.Command(bin, "run", "--config", file, "--adapter", "caddyfile")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), "HOME="+work, "XDG_DATA_HOME="+work, "XDG_CONFIG_HOME="+work)
	serve.DieWithParent(cmd, syscall.SIGTERM)
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("start caddy: %w", err)
	}
	return serve.Watch(cmd, "caddy"), "127.0.0.1:" + strconv.Itoa(port), nil
}

// waitOK waits up to a minute for t to answer 200.
func waitOK(t target, tc *tls.Config) error {
	hc := client(t.Addr, tc)
	deadline := time.Now().Add(time.Minute)
	for {
		err := get(hc, t.URL)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// makeCert writes a self-signed ECDSA P-256 certificate for benchName (what certmagic makes by default) and its
// key, and returns a pool that trusts it.
func makeCert(certFile, keyFile string) (*x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: benchName}, DNSNames: []string{benchName},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return pool, nil
}

// loadavg is /proc/loadavg's first three fields ("?" where it cannot be read).
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
