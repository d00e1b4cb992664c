package safesocket

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/Microsoft/go-winio"
	"golang.org/x/sys/windows"
)

const defaultPath = `\\.\pipe\WritebackAgent`

// pipeSDDL lets SYSTEM and Administrators do anything with the pipe and interactive users
// (at the console or over remote desktop) read and write it; nobody else may open it.
// Protected (P): nothing is inherited.
const pipeSDDL = "D:P(A;;GA;;;SY)(A;;GA;;;BA)(A;;GRGW;;;IU)"

const pipeBufferSize = 64 << 10

func listen(path string) (net.Listener, error) {
	// go-winio creates the first instance with FILE_CREATE (FILE_FLAG_FIRST_PIPE_INSTANCE),
	// so a pipe already created by another process (running service or impostor) is an
	// error. Wine (8.0) does not enforce that for pipes: there, a server answering at path
	// is looked for first.
	if underWine() && answers(path) {
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
	if underWine() {
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

// underWine reports whether the program runs under Wine rather than Windows: Wine's
// ntdll.dll exports wine_get_version, Windows' does not.
func underWine() bool {
	ntdll := windows.NewLazySystemDLL("ntdll.dll")
	return ntdll.NewProc("wine_get_version").Find() == nil
}

func dial(ctx context.Context, path string) (net.Conn, error) {
	c, err := winio.DialPipeContext(ctx, path)
	if err != nil {
		return nil, err
	}
	if path != defaultPath {
		return c, nil
	}
	h, err := pipeHandle(c)
	if err == nil {
		err = checkServerIsSystem(h)
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// checkServerIsSystem refuses a pipe served by anything but a LocalSystem process: the
// service runs as SYSTEM, and the CLI sends it sign-in tokens.
func checkServerIsSystem(h windows.Handle) error {
	var pid uint32
	if err := windows.GetNamedPipeServerProcessId(h, &pid); err != nil {
		return fmt.Errorf("server process: %w", err)
	}
	id, err := processIdentity(pid)
	if err != nil {
		return fmt.Errorf("server process: %w", err)
	}
	system, err := windows.CreateWellKnownSid(windows.WinLocalSystemSid)
	if err != nil {
		return err
	}
	if id.UserID != system.String() {
		return fmt.Errorf("the pipe is served by a process running as %s, not by the Writeback Agent service", id.User)
	}
	return nil
}

func pipeHandle(c net.Conn) (windows.Handle, error) {
	f, ok := c.(interface{ Fd() uintptr })
	if !ok {
		return 0, fmt.Errorf("not a named pipe connection: %T", c)
	}
	return windows.Handle(f.Fd()), nil
}

func peerIdentity(c net.Conn) (Identity, error) {
	h, err := pipeHandle(c)
	if err != nil {
		return Identity{}, err
	}
	var pid uint32
	if err := windows.GetNamedPipeClientProcessId(h, &pid); err != nil {
		return Identity{}, fmt.Errorf("client process: %w", err)
	}
	return processIdentity(pid)
}

// processIdentity reads the user of process pid from its access token.
func processIdentity(pid uint32) (Identity, error) {
	p, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, pid)
	if err != nil {
		return Identity{}, fmt.Errorf("open process %d: %w", pid, err)
	}
	defer windows.CloseHandle(p)
	var tok windows.Token
	if err := windows.OpenProcessToken(p, windows.TOKEN_QUERY, &tok); err != nil {
		return Identity{}, fmt.Errorf("open token of process %d: %w", pid, err)
	}
	defer tok.Close()
	tu, err := tok.GetTokenUser()
	if err != nil {
		return Identity{}, fmt.Errorf("token user of process %d: %w", pid, err)
	}
	sid := tu.User.Sid
	id := Identity{UserID: sid.String(), User: sid.String()}
	if account, domain, _, err := sid.LookupAccount(""); err == nil {
		id.User = domain + `\` + account
	}
	id.Admin, err = isAdmin(tok, sid)
	if err != nil {
		return Identity{}, fmt.Errorf("groups of process %d: %w", pid, err)
	}
	return id, nil
}

// isAdmin reports whether a token is SYSTEM's or holds the Administrators group enabled,
// which it is only in an elevated token (UAC filters it to deny-only otherwise).
func isAdmin(tok windows.Token, user *windows.SID) (bool, error) {
	if user.IsWellKnown(windows.WinLocalSystemSid) {
		return true, nil
	}
	admins, err := windows.CreateWellKnownSid(windows.WinBuiltinAdministratorsSid)
	if err != nil {
		return false, err
	}
	groups, err := tok.GetTokenGroups()
	if err != nil {
		return false, err
	}
	for _, g := range groups.AllGroups() {
		if g.Attributes&windows.SE_GROUP_ENABLED != 0 && windows.EqualSid(g.Sid, admins) {
			return true, nil
		}
	}
	return false, nil
}
