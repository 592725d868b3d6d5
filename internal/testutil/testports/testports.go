// Package testports hands tests host ports that nothing else on the machine will take before their containers
// publish them. A port from net.Listen(":0") is not enough: it lies in the kernel's ephemeral range, where any
// outgoing connection (a test's HTTP client, a PostgreSQL connection) may take it as its source port between the
// pick and the container's start, and the container then fails with "address already in use". So the ports come
// from below that range, and each is claimed with an advisory lock on a file under the system temp dir, so test
// processes of other packages running at the same time never pick it too.
package testports

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

const (
	singleLo, singleHi = 10000, 20000 // Port's range
	blockLo, blockHi   = 20000, 32000 // Block's range, in blocks of BlockSize
	BlockSize          = 200          // ports a test server may book by stepping up from its block's base
)

var (
	mu   sync.Mutex
	held = map[string]*os.File{} // lock files this process holds, by name
)

// Port returns a TCP and UDP port free on every interface, outside the ephemeral range, that no other test of any
// process holds. It stays claimed until the process exits, so a process never gets the same port twice.
func Port(t testing.TB) int {
	t.Helper()
	checkEphemeral(t)
	for range 200 {
		p := singleLo + rand.IntN(singleHi-singleLo)
		if claim("port-"+strconv.Itoa(p)) != nil {
			if bindable(p) {
				return p
			}
		}
	}
	t.Fatal("testports: no free port after 200 tries")
	return 0
}

// Block returns the first port of a block of BlockSize ports outside the ephemeral range that no other test of
// any process holds until t ends: a test server's templates default to it and book upwards from it, so two servers
// never book the same port.
func Block(t testing.TB) int {
	t.Helper()
	checkEphemeral(t)
	n := (blockHi - blockLo) / BlockSize
	start := rand.IntN(n)
	for i := range n {
		b := (start + i) % n
		name := "block-" + strconv.Itoa(b)
		if f := claim(name); f != nil {
			t.Cleanup(func() { release(name, f) })
			return blockLo + b*BlockSize
		}
	}
	t.Fatal("testports: every port block is held")
	return 0
}

// claim takes the lock file name without waiting, or returns nil when this or another process holds it.
func claim(name string) *os.File {
	mu.Lock()
	defer mu.Unlock()
	if held[name] != nil {
		return nil
	}
	dir := filepath.Join(os.TempDir(), "stackhub-testports")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil
	}
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil
	}
	held[name] = f
	return f
}

func release(name string, f *os.File) {
	mu.Lock()
	defer mu.Unlock()
	delete(held, name)
	f.Close() // closing drops the lock
}

// bindable reports whether p can be listened on now, TCP and UDP, on every interface and on loopback.
func bindable(p int) bool {
	for _, a := range []string{":", "127.0.0.1:"} {
		l, err := net.Listen("tcp", a+strconv.Itoa(p))
		if err != nil {
			return false
		}
		l.Close()
		c, err := net.ListenPacket("udp", a+strconv.Itoa(p))
		if err != nil {
			return false
		}
		c.Close()
	}
	return true
}

// checkEphemeral fails the test when the kernel's ephemeral range reaches below blockHi, where these ports would
// again be open to outgoing connections.
func checkEphemeral(t testing.TB) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return // not Linux: no such file to read
	}
	var lo, hi int
	if _, err := fmt.Sscan(strings.TrimSpace(string(b)), &lo, &hi); err == nil && lo < blockHi {
		t.Fatalf("testports: the kernel's ephemeral ports start at %d, inside the test ports (%d-%d); raise net.ipv4.ip_local_port_range", lo, singleLo, blockHi)
	}
}
