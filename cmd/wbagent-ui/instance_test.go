//go:build !windows

package main

import (
	"errors"
	"testing"

	"github.com/writeback-agent/wbagent/agent/safesocket"
)

// A second start hands its window name to the running instance and does not open its own.
func TestSecondStartAsksTheRunningInstance(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	ln, err := listenInstance()
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	asked := make(chan string, 4)
	go serveInstance(ln, func(name string) { asked <- name })

	if _, err := listenInstance(); !errors.Is(err, safesocket.ErrInUse) {
		t.Errorf("a second instance listened: %v, want ErrInUse", err)
	}
	if err := askRunning("attention"); err != nil {
		t.Fatal(err)
	}
	if got := <-asked; got != "attention" {
		t.Errorf("the running instance was asked for %q", got)
	}
	if err := askRunning("frobnicate"); err == nil {
		t.Error("an unknown window was accepted")
	}
}

// Without a running instance the socket left behind by one that ended is reused.
func TestStaleInstanceSocketIsReplaced(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	ln, err := listenInstance()
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	if err := askRunning("review"); err == nil {
		t.Error("askRunning succeeded with no instance running")
	}
	ln, err = listenInstance()
	if err != nil {
		t.Fatalf("listen after the first instance ended: %v", err)
	}
	ln.Close()
}
