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
	"unsafe"

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

func wellKnown(t *testing.T, typ windows.WELL_KNOWN_SID_TYPE) *windows.SID {
	t.Helper()
	sid, err := windows.CreateWellKnownSid(typ)
	if err != nil {
		t.Fatal(err)
	}
	return sid
}

// A client trusts a pipe served by SYSTEM; on a test path, also its own user; never
// another user.
func TestTheClientTrustsOnlyTheServiceAccount(t *testing.T) {
	system := wellKnown(t, windows.WinLocalSystemSid)
	alice, err := windows.StringToSid("S-1-5-21-1004336348-1177238915-682003330-1001")
	if err != nil {
		t.Fatal(err)
	}
	bob, err := windows.StringToSid("S-1-5-21-1004336348-1177238915-682003330-1002")
	if err != nil {
		t.Fatal(err)
	}
	const testPath = `\\.\pipe\WritebackAgentTest`
	for _, tc := range []struct {
		name           string
		server, client *windows.SID
		path           string
		ok             bool
	}{
		{"SYSTEM on the default pipe", system, alice, defaultPath, true},
		{"SYSTEM on a test pipe", system, alice, testPath, true},
		{"the client's own user on the default pipe", alice, alice, defaultPath, false},
		{"the client's own user on a test pipe", alice, alice, testPath, true},
		{"another user on the default pipe", bob, alice, defaultPath, false},
		{"another user on a test pipe", bob, alice, testPath, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := serverAllowed(tc.server, tc.client, tc.path)
			if (err == nil) != tc.ok {
				t.Errorf("serverAllowed: %v, want allowed %v", err, tc.ok)
			}
		})
	}
}

// Admin: SYSTEM, or the Administrators group enabled (elevated); not when UAC left it
// deny-only.
func TestAdminIsSystemOrAnElevatedAdministrator(t *testing.T) {
	system := wellKnown(t, windows.WinLocalSystemSid)
	admins := wellKnown(t, windows.WinBuiltinAdministratorsSid)
	users := wellKnown(t, windows.WinBuiltinUsersSid)
	alice, err := windows.StringToSid("S-1-5-21-1004336348-1177238915-682003330-1001")
	if err != nil {
		t.Fatal(err)
	}
	enabled := uint32(windows.SE_GROUP_ENABLED | windows.SE_GROUP_ENABLED_BY_DEFAULT | windows.SE_GROUP_MANDATORY)
	for _, tc := range []struct {
		name   string
		user   *windows.SID
		groups []windows.SIDAndAttributes
		admin  bool
	}{
		{"SYSTEM", system, nil, true},
		{"elevated administrator", alice, []windows.SIDAndAttributes{{Sid: users, Attributes: enabled}, {Sid: admins, Attributes: enabled}}, true},
		{"administrator, not elevated", alice, []windows.SIDAndAttributes{{Sid: users, Attributes: enabled}, {Sid: admins, Attributes: windows.SE_GROUP_USE_FOR_DENY_ONLY}}, false},
		{"user", alice, []windows.SIDAndAttributes{{Sid: users, Attributes: enabled}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := identityOf(tc.user, tc.groups)
			if err != nil {
				t.Fatal(err)
			}
			if id.Admin != tc.admin || id.UserID != tc.user.String() {
				t.Errorf("identity %+v, want admin %v and user %s", id, tc.admin, tc.user)
			}
		})
	}
}

// Interactive users may read and write the pipe but never create an instance of it
// (FILE_CREATE_PIPE_INSTANCE, the same bit as FILE_APPEND_DATA, part of GENERIC_WRITE).
func TestUsersCannotCreatePipeInstances(t *testing.T) {
	sd, err := windows.SecurityDescriptorFromString(pipeSDDL)
	if err != nil {
		t.Fatal(err)
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		t.Fatal(err)
	}
	iu := wellKnown(t, windows.WinInteractiveSid)
	const createPipeInstance = windows.FILE_APPEND_DATA
	found := false
	for i := range uint32(dacl.AceCount) {
		var ace *windows.ACCESS_ALLOWED_ACE
		if err := windows.GetAce(dacl, i, &ace); err != nil {
			t.Fatal(err)
		}
		sid := (*windows.SID)(unsafe.Pointer(&ace.SidStart))
		if !windows.EqualSid(sid, iu) {
			continue
		}
		found = true
		if ace.Mask&createPipeInstance != 0 || ace.Mask&windows.GENERIC_WRITE != 0 {
			t.Errorf("interactive users' access %#x includes creating pipe instances", ace.Mask)
		}
		if ace.Mask&clientAccess != clientAccess {
			t.Errorf("interactive users' access %#x lacks what clients open the pipe with (%#x)", ace.Mask, clientAccess)
		}
	}
	if !found {
		t.Error("interactive users may not open the pipe")
	}
}
