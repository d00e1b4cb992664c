package source

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/writeback-agent/wbagent/agent/condition"
)

// Failed pulls raise the condition that names their cause, with its fix, and clear.
func TestPullFailuresRaiseConditions(t *testing.T) {
	for _, tc := range []struct {
		err      error
		failures int // before the condition shows
		code     string
	}{
		{&StatusError{Op: "pull", Status: 503}, UnreachableAfter, CodePlatformUnreachable},
		{errors.New("dial tcp: connection refused"), UnreachableAfter, CodePlatformUnreachable},
		{&StatusError{Op: "pull", Status: 401}, 1, CodePlatformCredentialRejected},
		{&StatusError{Op: "pull", Status: 403}, 1, CodePlatformCredentialRejected},
		{fmt.Errorf("platform pull: %w: more than the 50 items asked for", ErrPageRefused), 1, CodePlatformAnswerRefused},
	} {
		board := condition.NewBoard(nil)
		h := newHealth(board, "source")
		for i := 1; i <= tc.failures; i++ {
			if len(board.All()) != 0 {
				t.Errorf("%v: a condition after %d failures, want it after %d", tc.err, i-1, tc.failures)
			}
			h.pullFailed(tc.err, false)
		}
		all := board.All()
		if len(all) != 1 || all[0].Code != tc.code || all[0].Fix == "" || all[0].Owner != condition.IT {
			t.Errorf("%v: conditions %+v, want %s", tc.err, all, tc.code)
		}
		if strings.Contains(all[0].Fix, "connection refused") && tc.code != CodePlatformUnreachable {
			t.Errorf("fix %q", all[0].Fix)
		}
		h.pullOK()
		if len(board.All()) != 0 {
			t.Errorf("%v: not cleared by a good pull", tc.err)
		}
	}
}
