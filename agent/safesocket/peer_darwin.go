package safesocket

import "golang.org/x/sys/unix"

const (
	defaultPath = "/var/run/writeback-agent/wbagentd.sock"
	// socketGroup: every local user of a Mac is in staff.
	socketGroup = "staff"
)

// peerUID returns the uid of the process at the other end of a Unix socket
// (LOCAL_PEERCRED).
func peerUID(fd uintptr) (uint32, error) {
	cred, err := unix.GetsockoptXucred(int(fd), unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
	if err != nil {
		return 0, err
	}
	return cred.Uid, nil
}
