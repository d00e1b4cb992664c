package service

import (
	"testing"

	"github.com/writeback-agent/wbagent/agent/link"
)

// An unlink revokes the sign-in at the clinical system within link.RevokeTimeout; a stop
// must let it finish rather than cut it off and leave the sign-in valid there.
func TestStopLetsAnUnlinkFinishRevoking(t *testing.T) {
	if apiStopTimeout <= link.RevokeTimeout {
		t.Fatalf("requests get %v at stop, less than the %v an unlink may take to revoke", apiStopTimeout, link.RevokeTimeout)
	}
}
