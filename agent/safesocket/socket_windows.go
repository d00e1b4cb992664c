package safesocket

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"time"

	"github.com/Microsoft/go-winio"
	"golang.org/x/sys/windows"

	"github.com/writeback-agent/wbagent/agent/internal/wine"
)

const defaultPath = `\\.\pipe\WritebackAgent`

// clientAccess is what a client opens the pipe with, and all interactive users may do with
// it: read, write data, read and write attributes. Not GENERIC_WRITE: on a pipe it includes
// FILE_APPEND_DATA, which is FILE_CREATE_PIPE_INSTANCE, the right to create server instances
// of the pipe (and so impersonate the service to the next client).
const clientAccess = windows.FILE_GENERIC_READ | windows.FILE_WRITE_DATA | windows.FILE_WRITE_ATTRIBUTES

// pipeSDDL lets SYSTEM and Administrators do anything with the pipe and interactive users
// (at the console or over remote desktop) clientAccess (0x12018b); nobody else may open it.
// Protected (P): nothing is inherited.
const pipeSDDL = "D:P(A;;GA;;;SY)(A;;GA;;;BA)(A;;0x12018b;;;IU)"

const pipeBufferSize = 64 << 10

func listen(path string) (net.Listener, error) {
	// go-winio creates the first instance with FILE_CREATE (FILE_FLAG_FIRST_PIPE_INSTANCE),
	// so a pipe already created by another process (running service or impostor) is an
	// error. Wine (8.0) does not enforce that for pipes: there, a server answering at path
	// is looked for first.
	if wine.Detected() && answers(path) {
		return nil, ErrInUse
	}
	ln, err := winio.ListenPipe(path, &winio.PipeConfig{
		SecurityDescriptor: pipeSDDL,
		InputBufferSize:    pipeBufferSize,
		OutputBufferSize:   pipeBufferSize,
	})
	if errors.Is(err, windows.ERROR_ACCESS_DENIED) || errors.Is(err, windows.ERROR_PIPE_BUSY) ||
		errors.Is(err, windows.ERROR_ALREADY_EXISTS) {
		return nil, fmt.Errorf("%w: %w", ErrInUse, err)
	}
	if err != nil {
		return nil, err
	}
	if wine.Detected() {
		drainFirstInstance(path)
	}
	return ln, nil
}

// drainFirstInstance works around a difference of Wine's named pipes, and runs only under
// Wine. go-winio's listener keeps the pipe's first instance (made with FILE_CREATE, which
// is what makes a second server fail) only to hold the name, and serves clients on further
// instances; it opens that first instance without read or write access, which on Windows
// leaves it disconnected, so no client can ever connect to it. Wine (8.0) ignores that and
// puts every new instance in the listening state, so the first client after each start
// connected to the instance nobody serves and hung until its timeout (4 of 4 starts under
// Wine; later clients answered in 40–80 ms). Connecting to it once here, and closing at
// once, leaves that instance closing, so no client can take it. On Windows the instance is
// disconnected, so this never runs there (and would find nothing to connect to).
func drainFirstInstance(path string) { answers(path) }

// answers reports whether a client could connect to the pipe at path within half a second;
// it closes the connection at once.
func answers(path string) bool {
	timeout := 500 * time.Millisecond
	c, err := winio.DialPipe(path, &timeout)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func dial(ctx context.Context, path string) (net.Conn, error) {
	// Identification: the service may read who the client is, never act as the client.
	c, err := winio.DialPipeAccessImpLevel(ctx, path, clientAccess, winio.PipeImpLevelIdentification)
	if err != nil {
		return nil, err
	}
	h, err := pipeHandle(c)
	if err == nil {
		err = checkServer(h, path)
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// checkServer refuses a pipe served by a process the client must not trust: the CLI sends
// the service sign-in tokens. The service runs as SYSTEM; on another path than the default
// (a second copy, for testing) the client's own user may serve it too.
func checkServer(h windows.Handle, path string) error {
	var pid uint32
	if err := windows.GetNamedPipeServerProcessId(h, &pid); err != nil {
		return fmt.Errorf("server process: %w", err)
	}
	server, err := processUser(pid)
	if err != nil {
		return fmt.Errorf("server process: %w", err)
	}
	me, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return fmt.Errorf("this process's user: %w", err)
	}
	return serverAllowed(server, me.User.Sid, path)
}

// serverAllowed says whether a pipe at path served by user server may be used by client:
// SYSTEM always; the client's own user only on another path than the default.
func serverAllowed(server, client *windows.SID, path string) error {
	if server.IsWellKnown(windows.WinLocalSystemSid) {
		return nil
	}
	if path != defaultPath && windows.EqualSid(server, client) {
		return nil
	}
	return fmt.Errorf("the pipe is served by a process running as %s, not by the Writeback Agent service", accountName(server))
}

// processUser returns the user of process pid, from its access token.
func processUser(pid uint32) (*windows.SID, error) {
	p, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, pid)
	if err != nil {
		return nil, fmt.Errorf("open process %d: %w", pid, err)
	}
	defer windows.CloseHandle(p)
	var tok windows.Token
	if err := windows.OpenProcessToken(p, windows.TOKEN_QUERY, &tok); err != nil {
		return nil, fmt.Errorf("open token of process %d: %w", pid, err)
	}
	defer tok.Close()
	tu, err := tok.GetTokenUser()
	if err != nil {
		return nil, fmt.Errorf("token user of process %d: %w", pid, err)
	}
	return tu.User.Sid.Copy()
}

func accountName(sid *windows.SID) string {
	if account, domain, _, err := sid.LookupAccount(""); err == nil {
		return domain + `\` + account
	}
	return sid.String()
}

func pipeHandle(c net.Conn) (windows.Handle, error) {
	f, ok := c.(interface{ Fd() uintptr })
	if !ok {
		return 0, fmt.Errorf("not a named pipe connection: %T", c)
	}
	return windows.Handle(f.Fd()), nil
}

var procImpersonateNamedPipeClient = windows.NewLazySystemDLL("advapi32.dll").NewProc("ImpersonateNamedPipeClient")

// peerIdentity identifies the client by the token it connected with (the pipe client's
// identification token), not by opening a process by its id, which may have exited and
// been replaced, or may hold a handle it did not open.
func peerIdentity(c net.Conn) (Identity, error) {
	h, err := pipeHandle(c)
	if err != nil {
		return Identity{}, err
	}
	type result struct {
		id  Identity
		err error
	}
	ch := make(chan result, 1)
	// Impersonation is per thread: on a thread of its own, which, if it cannot revert,
	// ends with the goroutine instead of going back to the scheduler as the client.
	go func() {
		runtime.LockOSThread()
		id, reverted, err := clientTokenIdentity(h)
		if reverted {
			runtime.UnlockOSThread()
		}
		ch <- result{id, err}
	}()
	r := <-ch
	return r.id, r.err
}

// clientTokenIdentity reads the identity of the pipe client of h while impersonating it on
// the current (locked) thread; reverted reports whether the thread is itself again.
func clientTokenIdentity(h windows.Handle) (id Identity, reverted bool, err error) {
	if r, _, e := procImpersonateNamedPipeClient.Call(uintptr(h)); r == 0 {
		return Identity{}, true, fmt.Errorf("impersonate the client: %w", e)
	}
	var tok windows.Token
	err = windows.OpenThreadToken(windows.CurrentThread(), windows.TOKEN_QUERY, true, &tok)
	if rerr := windows.RevertToSelf(); rerr != nil {
		if err == nil {
			tok.Close()
		}
		return Identity{}, false, fmt.Errorf("stop impersonating the client: %w", rerr)
	}
	if err != nil {
		return Identity{}, true, fmt.Errorf("the client's token: %w", err)
	}
	defer tok.Close()
	id, err = tokenIdentity(tok)
	return id, true, err
}

// tokenIdentity reads the user and whether they are an administrator from tok.
func tokenIdentity(tok windows.Token) (Identity, error) {
	tu, err := tok.GetTokenUser()
	if err != nil {
		return Identity{}, fmt.Errorf("token user: %w", err)
	}
	groups, err := tok.GetTokenGroups()
	if err != nil {
		return Identity{}, fmt.Errorf("token groups: %w", err)
	}
	return identityOf(tu.User.Sid, groups.AllGroups())
}

// identityOf is the Identity of user with groups (from a token).
func identityOf(user *windows.SID, groups []windows.SIDAndAttributes) (Identity, error) {
	admin, err := isAdmin(user, groups)
	if err != nil {
		return Identity{}, err
	}
	return Identity{UserID: user.String(), User: accountName(user), Admin: admin}, nil
}

// isAdmin reports whether a token is SYSTEM's or holds the Administrators group enabled,
// which it is only in an elevated token (UAC filters it to deny-only otherwise).
func isAdmin(user *windows.SID, groups []windows.SIDAndAttributes) (bool, error) {
	if user.IsWellKnown(windows.WinLocalSystemSid) {
		return true, nil
	}
	admins, err := windows.CreateWellKnownSid(windows.WinBuiltinAdministratorsSid)
	if err != nil {
		return false, err
	}
	for _, g := range groups {
		if g.Attributes&windows.SE_GROUP_ENABLED != 0 && windows.EqualSid(g.Sid, admins) {
			return true, nil
		}
	}
	return false, nil
}
