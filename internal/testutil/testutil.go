// Package testutil starts real StackHub servers for tests: real SQLite files and, when STACKHUB_TEST_POSTGRES is
// set, a fresh schema on a real PostgreSQL server, with real HTTP on loopback.
package testutil

import (
	"io"
	"log/slog"
	"net"
	"testing"

	"github.com/stackhub/stackhub/internal/store"
	"github.com/stackhub/stackhub/internal/testutil/dbtest"
)

// PostgresEnv names the variable holding the DSN of the test PostgreSQL server.
const PostgresEnv = dbtest.PostgresEnv

// Engine is one database engine to run a test on.
type Engine = dbtest.Engine

// Engines lists SQLite always, and PostgreSQL when STACKHUB_TEST_POSTGRES is set (required in CI).
func Engines(t testing.TB) []Engine { return dbtest.Engines(t) }

// ForEachEngine runs fn as a subtest on every engine.
func ForEachEngine(t *testing.T, fn func(t *testing.T, e Engine)) { dbtest.ForEachEngine(t, fn) }

// ForEachEngineParallel runs fn as a parallel subtest on every engine (see dbtest.ForEachEngineParallel).
func ForEachEngineParallel(t *testing.T, fn func(t *testing.T, e Engine)) {
	dbtest.ForEachEngineParallel(t, fn)
}

// OpenStore opens a migrated store on a fresh database of engine e.
func OpenStore(t testing.TB, e Engine) *store.Store {
	t.Helper()
	return dbtest.OpenStore(t, e)
}

// Logger returns a logger that writes to the test log when -v is given, and nowhere otherwise.
func Logger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// SmallSendBuffers wraps l so that every connection it accepts has a send buffer of size bytes, fixed: Linux would
// otherwise grow it to megabytes on loopback, and a test of a client that stops reading needs a write that blocks.
func SmallSendBuffers(l net.Listener, size int) net.Listener { return smallSendBuffers{l, size} }

type smallSendBuffers struct {
	net.Listener
	size int
}

func (l smallSendBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(l.size)
	}
	return c, err
}
