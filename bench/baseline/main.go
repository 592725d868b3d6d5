// Command baseline is the yardstick of bench/hubload: the least a Go HTTP server can do per request. It answers
// every GET with one fixed JSON body of -size bytes (newline included, like encoding/json's Encoder), with the
// same Content-Type as StackHub, from a stock net/http server. It prints "listening <host:port>" on stdout once
// it accepts connections, and exits on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "listen address")
	size := flag.Int("size", 600, "response body size in bytes (at least 12)")
	certFile := flag.String("cert", "", "serve HTTPS with this certificate PEM (and -key); bench/edge uses it")
	keyFile := flag.String("key", "", "the key PEM for -cert")
	flag.Parse()
	if *size < 12 {
		fmt.Fprintln(os.Stderr, "baseline: -size must be at least 12")
		os.Exit(2)
	}
	body := jsonBody(*size)
	length := strconv.Itoa(len(body))

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			h := w.Header()
			h.Set("Content-Type", "application/json; charset=utf-8")
			h.Set("Content-Length", length)
			_, _ = w.Write(body)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	fmt.Printf("listening %s\n", ln.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() {
		if *certFile != "" {
			errc <- srv.ServeTLS(ln, *certFile, *keyFile)
			return
		}
		errc <- srv.Serve(ln)
	}()
	select {
	case err := <-errc:
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
}

// jsonBody returns {"pad":"xxx…"} and a newline, exactly n bytes long.
func jsonBody(n int) []byte {
	const frame = len(`{"pad":""}` + "\n")
	return []byte(`{"pad":"` + strings.Repeat("x", n-frame) + `"}` + "\n")
}
