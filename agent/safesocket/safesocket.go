// Package safesocket is the local API's transport: a named pipe on Windows that SYSTEM,
// administrators and interactive users may open, and a Unix socket (mode 0660, in a folder
// only root can write) elsewhere. It also says who is at the other end of a connection:
// the pipe client's access token on Windows, the socket peer's credentials on Unix.
package safesocket

import (
	"context"
	"errors"
	"fmt"
	"net"
)

// ErrInUse reports that another process already serves the local API at a path.
var ErrInUse = errors.New("another process is already serving the local API there")

// Identity is the operating-system user at the other end of a connection.
type Identity struct {
	// UserID is stable for the account: the uid on Unix, the SID on Windows. Links between
	// OS users and clinical users are keyed by it.
	UserID string `json:"userId"`
	// User is the account's name for people: "alice" or `PRACTICE\alice`.
	User string `json:"user"`
	// Admin: the caller may do IT actions. On Windows, SYSTEM or an elevated member of
	// Administrators; on Unix, root or the user the service runs as (who owns its data
	// folder anyway).
	Admin bool `json:"admin"`
}

// DefaultPath returns where the service listens unless told otherwise:
// \\.\pipe\WritebackAgent on Windows, /run/writeback-agent/wbagentd.sock on Linux and
// /var/run/writeback-agent/wbagentd.sock on macOS.
func DefaultPath() string { return defaultPath }

// Listen starts listening at path. On Unix it creates the folder if needed, replaces a
// socket file left by a service that is no longer running, and sets the socket's mode to
// 0660. It fails with ErrInUse if another process answers there.
func Listen(path string) (net.Listener, error) {
	ln, err := listen(path)
	if err != nil {
		return nil, fmt.Errorf("safesocket: listen at %s: %w", path, err)
	}
	return ln, nil
}

// Dial connects to the local API at path. On Windows, a connection is refused unless the
// process serving the pipe runs as SYSTEM (or, on another path than the default, as the
// caller's own user: a copy run for testing), so no other user's program can stand in for
// the service.
func Dial(ctx context.Context, path string) (net.Conn, error) {
	c, err := dial(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("safesocket: connect to %s: %w", path, err)
	}
	return c, nil
}

// PeerIdentity returns the user at the other end of a connection accepted from a listener
// made by Listen.
func PeerIdentity(c net.Conn) (Identity, error) {
	id, err := peerIdentity(c)
	if err != nil {
		return Identity{}, fmt.Errorf("safesocket: identify the caller: %w", err)
	}
	return id, nil
}
