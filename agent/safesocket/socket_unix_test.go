//go:build linux || darwin

package safesocket

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func TestListenSetsModeAndIdentifiesThePeer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "api", "wbagentd.sock")
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != socketMode {
		t.Errorf("socket mode %o, want %o", got, socketMode)
	}

	type result struct {
		id  Identity
		err error
	}
	got := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- result{err: err}
			return
		}
		defer c.Close()
		id, err := PeerIdentity(c)
		got <- result{id, err}
	}()
	c, err := Dial(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := <-got
	if r.err != nil {
		t.Fatal(r.err)
	}
	if want := strconv.Itoa(os.Getuid()); r.id.UserID != want {
		t.Errorf("peer uid %q, want %q", r.id.UserID, want)
	}
	if r.id.User == "" || !r.id.Admin {
		t.Errorf("peer %+v: want a name, and admin (same user as the service)", r.id)
	}
}

func TestListenReplacesAStaleSocketButNotALiveOne(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wbagentd.sock")
	live, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(path); !errors.Is(err, ErrInUse) {
		t.Errorf("second Listen: %v, want ErrInUse", err)
	}
	live.Close()

	// A socket file left behind by a killed service.
	stale, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()
	ln, err := Listen(path)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	ln.Close()
}

func TestListenRefusesToReplaceAFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wbagentd.sock")
	if err := os.WriteFile(path, []byte("not a socket"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(path); err == nil {
		t.Fatal("Listen replaced a regular file")
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the file is gone: %v", err)
	}
}

func TestUnixIdentity(t *testing.T) {
	for _, tc := range []struct {
		uid   uint32
		admin bool
	}{
		{0, true},
		{uint32(os.Getuid()), true},
		{4242424, os.Getuid() == 4242424},
	} {
		id := unixIdentity(tc.uid)
		if id.Admin != tc.admin || id.UserID != strconv.FormatUint(uint64(tc.uid), 10) || id.User == "" {
			t.Errorf("unixIdentity(%d) = %+v, want admin %v", tc.uid, id, tc.admin)
		}
	}
}

func TestDialWithNobodyListeningFails(t *testing.T) {
	if _, err := Dial(t.Context(), filepath.Join(t.TempDir(), "none.sock")); err == nil {
		t.Fatal("Dial succeeded with nobody listening")
	}
}
