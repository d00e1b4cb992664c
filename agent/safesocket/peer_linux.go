package safesocket

import "golang.org/x/sys/unix"

const (
	defaultPath = "/run/writeback-agent/wbagentd.sock"
	// socketGroup: none on Linux (development only): the socket keeps the service's group.
	socketGroup = ""
)

// peerUID returns the uid of the process at the other end of a Unix socket (SO_PEERCRED).
func peerUID(fd uintptr) (uint32, error) {
	cred, err := unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return 0, err
	}
	return cred.Uid, nil
}
