package serve

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFreePort(t *testing.T) {
	p, err := FreePort()
	if err != nil || p <= 0 {
		t.Fatalf("FreePort = %d, %v", p, err)
	}
}

// A server that exits at once is reported with its exit status and its log, without waiting out the timeout.
func TestStartExited(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "fake")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho \"no such flag: $*\" >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The health timeout is an hour and the context a minute (a guard against a hang): Start must return while
	// the context is still live, so because it saw the exit.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := Start(ctx, Config{Bin: bin, Dir: dir, Args: []string{"--prefix", "x"}, HealthTimeout: time.Hour})
	if ctx.Err() != nil {
		t.Fatalf("Start waited out its context instead of noticing the exit: %v", err)
	}
	if err == nil || !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "no such flag: serve") {
		t.Fatalf("Start = %v, want the exit status and the log", err)
	}
}

// The server gets none of the caller's StackHub settings.
func TestCleanEnv(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://leak")
	t.Setenv("STACKHUB_LOG_LEVEL", "debug")
	t.Setenv("WEBHOOKS", "x")
	t.Setenv("KEEP_ME", "1")
	env := strings.Join(cleanEnv(), "\n")
	for _, leak := range []string{"DATABASE_URL=", "STACKHUB_LOG_LEVEL=", "WEBHOOKS="} {
		if strings.Contains(env, leak) {
			t.Errorf("cleanEnv keeps %s", leak)
		}
	}
	if !strings.Contains(env, "KEEP_ME=1") {
		t.Error("cleanEnv drops unrelated variables")
	}
}

func TestWatchStop(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := Watch(cmd, "sleep")
	if err := p.Alive(); err != nil {
		t.Fatalf("Alive = %v", err)
	}
	p.Stop()
	if err := p.Alive(); err == nil || !strings.Contains(err.Error(), "sleep exited") {
		t.Fatalf("Alive after Stop = %v", err)
	}
	p.Stop() // again: a no-op
}
