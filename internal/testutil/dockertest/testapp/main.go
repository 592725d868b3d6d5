// Command testapp is the one static program behind every container in StackHub's Docker tests. The first
// argument picks what it does (default serve):
//
//	serve        HTTP on $PORT (8080): GET / answers "$APP_NAME $VERSION"; GET /health is 200 once $READY_AFTER
//	             seconds have passed, else 503; with $DATA_DIR, PUT and GET /data store and read
//	             $DATA_DIR/data.txt; with $DEPENDS_URL, GET /dep relays that URL's body. GET /headers answers
//	             the request's headers and Host as JSON; GET /sse?id=X sends the event "first", then waits for
//	             GET /sse/release?id=X before it sends "second" and ends (so a client proves it got the first
//	             while the stream was open); /ws echoes WebSocket text messages; POST /echo streams the body back.
//	             One log line per request.
//	             SIGTERM stops it at once, unless $STOP_IGNORE is set: then only a kill does (a stop grace period).
//	check URL    exit 0 when GET URL answers 2xx within 2 s, else 1 (an exec-form healthcheck).
//	crash        print a fatal error to stderr and exit with $EXIT_CODE (3).
//	once         print "init done" and exit 0 (a one-shot init container).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

func main() {
	mode := "serve"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	switch mode {
	case "serve":
		if err := serve(); err != nil {
			fmt.Fprintln(os.Stderr, "serve:", err)
			os.Exit(1)
		}
	case "check":
		if len(os.Args) < 3 {
			fmt.Fprintln(os.Stderr, "usage: testapp check URL")
			os.Exit(2)
		}
		os.Exit(check(os.Args[2]))
	case "crash":
		fmt.Fprintln(os.Stderr, "fatal: cannot connect to database at db:5432")
		os.Exit(envInt("EXIT_CODE", 3))
	case "once":
		fmt.Println("init done")
	default:
		fmt.Fprintf(os.Stderr, "unknown mode %q (serve, check, crash, once)\n", mode)
		os.Exit(2)
	}
}

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func envInt(key string, def int) int {
	n, err := strconv.Atoi(os.Getenv(key))
	if err != nil {
		return def
	}
	return n
}

func check(url string) int {
	c := &http.Client{Timeout: 2 * time.Second}
	res, err := c.Get(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "check:", err)
		return 1
	}
	res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		fmt.Fprintln(os.Stderr, "check:", res.Status)
		return 1
	}
	return 0
}

func serve() error {
	start := time.Now()
	port := env("PORT", "8080")
	readyAfter := time.Duration(envInt("READY_AFTER", 0)) * time.Second
	hello := env("APP_NAME", "testapp") + " " + env("VERSION", "v1") + "\n"
	dataDir, depURL := os.Getenv("DATA_DIR"), os.Getenv("DEPENDS_URL")

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, hello) })
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		if time.Since(start) < readyAfter {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	})
	routeEdgeProbes(mux)
	if dataDir != "" {
		file := filepath.Join(dataDir, "data.txt")
		mux.HandleFunc("PUT /data", func(w http.ResponseWriter, r *http.Request) {
			b, err := io.ReadAll(r.Body)
			if err == nil {
				err = os.WriteFile(file, b, 0o644)
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		})
		mux.HandleFunc("GET /data", func(w http.ResponseWriter, r *http.Request) {
			b, err := os.ReadFile(file)
			if errors.Is(err, os.ErrNotExist) {
				http.NotFound(w, r)
				return
			} else if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.Write(b)
		})
	}
	if depURL != "" {
		c := &http.Client{Timeout: 5 * time.Second}
		mux.HandleFunc("GET /dep", func(w http.ResponseWriter, r *http.Request) {
			res, err := c.Get(depURL)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			defer res.Body.Close()
			w.WriteHeader(res.StatusCode)
			io.Copy(w, res.Body)
		})
	}
	logged := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Printf("%s %s %s\n", time.Now().UTC().Format(time.RFC3339), r.Method, r.URL.Path)
		mux.ServeHTTP(w, r)
	})

	// PID 1 gets no default signal handling: stop promptly and cleanly on SIGTERM so `docker stop` is fast.
	sigs := []os.Signal{syscall.SIGTERM, os.Interrupt}
	if os.Getenv("STOP_IGNORE") != "" {
		signal.Ignore(syscall.SIGTERM)
		sigs = []os.Signal{os.Interrupt}
	}
	ctx, stop := signal.NotifyContext(context.Background(), sigs...)
	defer stop()
	srv := &http.Server{Addr: ":" + port, Handler: logged, ReadHeaderTimeout: 5 * time.Second}
	ln, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		return err
	}
	fmt.Printf("listening on :%s\n", port)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	fmt.Println("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
