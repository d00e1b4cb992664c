package safesocket

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/windows"
)

// testPipe returns a pipe name no other test uses.
func testPipe(t *testing.T) string {
	return fmt.Sprintf(`\\.\pipe\wbagent-safesocket-test-%d-%d`, os.Getpid(), time.Now().UnixNano())
}

// serveEcho answers each line with the line, until ln closes.
func serveEcho(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			r := bufio.NewReader(c)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if _, err := c.Write([]byte(line)); err != nil {
					return
				}
			}
		}()
	}
}

// The first client after the listener starts is answered at once, like every later one
// (under Wine it used to connect to an instance nobody served, and hang).
func TestTheFirstClientAfterListenIsAnswered(t *testing.T) {
	for start := range 3 {
		path := testPipe(t)
		ln, err := Listen(path)
		if err != nil {
			t.Fatal(err)
		}
		go serveEcho(ln)
		for client := range 3 {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			c, err := Dial(ctx, path)
			if err != nil {
				cancel()
				t.Fatalf("start %d, client %d: %v", start, client, err)
			}
			c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Write([]byte("ping\n")); err != nil {
				t.Fatalf("start %d, client %d: write: %v", start, client, err)
			}
			got, err := bufio.NewReader(c).ReadString('\n')
			if err != nil || got != "ping\n" {
				t.Fatalf("start %d, client %d: read %q, %v: the server did not answer", start, client, got, err)
			}
			c.Close()
			cancel()
		}
		ln.Close()
	}
}

func TestASecondListenerOnTheSamePipeIsRefused(t *testing.T) {
	path := testPipe(t)
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go serveEcho(ln)
	ln2, err := Listen(path)
	if err == nil {
		ln2.Close()
		t.Fatal("a second listener on the same pipe started")
	}
	if !errors.Is(err, ErrInUse) {
		t.Errorf("got %v, want ErrInUse", err)
	}
}

func TestThePeerIsTheProcessUser(t *testing.T) {
	path := testPipe(t)
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
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
	tok := windows.GetCurrentProcessToken()
	me, err := tok.GetTokenUser()
	if err != nil {
		t.Fatal(err)
	}
	if r.id.UserID != me.User.Sid.String() {
		t.Errorf("peer %q, want this process's user %q", r.id.UserID, me.User.Sid.String())
	}
	if r.id.User == "" {
		t.Error("no account name")
	}
}
