package source

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/writeback-agent/wbagent/agent/condition"
	"github.com/writeback-agent/wbagent/agent/probe"
	"github.com/writeback-agent/wbagent/agent/source/platformapi"
)

// Condition codes of the platform link. Serialised (local API, CLI --json, metrics
// labels): never change a value.
const (
	CodePlatformUnreachable        = "platform-unreachable"
	CodePlatformCredentialRejected = "platform-credential-rejected"
	CodePlatformAnswerRefused      = "platform-answer-refused"
	CodePlatformJobConflict        = "platform-job-conflict"
)

// UnreachableAfter is how many pulls in a row must fail for a passing reason (no answer, a
// server error, 429) before platform-unreachable is raised: at the default back-off, about
// 3 to 7 seconds of failures. A refused credential or a page refused by the agent's caps is
// raised at once: retrying does not mend it.
const UnreachableAfter = 3

// maxConflictsShown bounds the job ids the conflict condition lists.
const maxConflictsShown = 10

// Subject and title of the platform's probe.
const (
	probeSubject = "platform"
	probeTitle   = "The online consultation platform"
)

// health turns the platform link's results into conditions on the board. It is safe for
// concurrent use.
type health struct {
	board *condition.Board
	name  string

	mu        sync.Mutex
	failures  int
	lastErr   error
	conflicts []string // job ids sent again with other content, newest last
	nConflict int
	published []condition.Condition
}

func newHealth(board *condition.Board, name string) *health {
	return &health{board: board, name: name}
}

// pullFailed counts a failed pull; now raises the condition at once (a probe asked for).
func (h *health) pullFailed(err error, now bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failures++
	if now {
		h.failures = max(h.failures, UnreachableAfter)
	}
	h.lastErr = err
	h.publish()
}

func (h *health) pullOK() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failures, h.lastErr = 0, nil
	h.publish()
}

// conflict notes a job id sent again with other content, shown to staff.
func (h *health) conflict(jobID string, record uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.nConflict++
	h.conflicts = append(h.conflicts, fmt.Sprintf("%s (record %d)", jobID, record))
	if len(h.conflicts) > maxConflictsShown {
		h.conflicts = h.conflicts[len(h.conflicts)-maxConflictsShown:]
	}
	h.publish()
}

// code returns the condition the last failure raises, "" for none yet.
func (h *health) code() string {
	if h.lastErr == nil {
		return ""
	}
	return failureCode(h.lastErr, h.failures)
}

func failureCode(err error, failures int) string {
	var se *StatusError
	switch {
	case errors.As(err, &se) && (se.Status == http.StatusUnauthorized || se.Status == http.StatusForbidden):
		return CodePlatformCredentialRejected
	case errors.Is(err, ErrPageRefused):
		return CodePlatformAnswerRefused
	case failures >= UnreachableAfter:
		return CodePlatformUnreachable
	}
	return ""
}

// publish sets the conditions; h.mu is held.
func (h *health) publish() {
	var conds []condition.Condition
	if code := h.code(); code != "" {
		conds = append(conds, describe(code, h.lastErr))
	}
	if h.nConflict > 0 {
		conds = append(conds, condition.Condition{
			Code: CodePlatformJobConflict, Severity: condition.Warning, Owner: condition.IT,
			Title: plural(h.nConflict, "writeback was", "writebacks were") + " sent again by the online consultation platform with different content",
			Fix: "Job ids: " + strings.Join(h.conflicts, ", ") + ".\n" +
				"Writeback Agent kept the first version of each (it is checked and filed as usual) and told the platform (outcome \"conflict\"). " +
				"Ask the platform's supplier which version is right. If it is the second, ask them to send it again under a new job id, " +
				"and, if the first is not filed yet, cancel it here as an administrator (wbagent cancel ID). " +
				"This notice shows until the service restarts.",
		})
	}
	if slices.Equal(conds, h.published) {
		return
	}
	h.published = conds
	h.board.Set(h.name, conds)
}

// describe returns the condition for a failure code. err is shown by its kind only (HTTP
// status or network failure): it never carries the credential.
func describe(code string, err error) condition.Condition {
	c := condition.Condition{Code: code, Severity: condition.Blocking, Owner: condition.IT}
	switch code {
	case CodePlatformCredentialRejected:
		c.Title = "The online consultation platform refuses this PC's enrolment credential: no new writebacks arrive"
		c.Fix = "The platform no longer accepts the credential it issued to this PC (revoked, expired, or issued for another practice's ODS code).\n" +
			"Ask the platform for a new enrolment credential for this practice, save it in a file only administrators can read, and as an administrator run: " +
			"wbagentd enrol --credential-file FILE. Delete the file, then restart the Writeback Agent service."
	case CodePlatformAnswerRefused:
		c.Title = "The online consultation platform sends answers Writeback Agent refuses: no new writebacks arrive"
		c.Fix = fmt.Sprintf("The last page of writebacks broke the platform contract (%v). "+
			"Nothing of it was queued or acknowledged, so nothing is lost. Report this to the platform's supplier; "+
			"Writeback Agent tries again with back-off.", errSummary(err))
	default:
		c.Title = "Writeback Agent cannot reach the online consultation platform: no new writebacks arrive"
		c.Fix = fmt.Sprintf("The last attempts failed (%v). Writeback Agent keeps trying with back-off; writebacks already here are still filed.\n"+
			"Check this PC's internet connection and proxy settings, and that the platform's address (source.url) is right; "+
			"if the platform reports an outage, wait for it to end.", errSummary(err))
	}
	return c
}

// errSummary names a failure without its details: an HTTP status, a refused page, or a
// network failure.
func errSummary(err error) string {
	var se *StatusError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("HTTP %d", se.Status)
	case errors.Is(err, ErrPageRefused):
		return err.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return "no answer in time"
	}
	return "no answer: a network failure"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// probe asks the platform for one writeback now (nothing is acknowledged), trying twice a
// second apart before a failure counts, and raises or clears the condition at once.
func (l *loop) probe(ctx context.Context) []probe.Check {
	check := probe.Check{Subject: probeSubject, Title: probeTitle}
	var err error
	for try := range 2 {
		if try > 0 && !sleep(ctx, time.Second) {
			break
		}
		_, _, err = l.cl.PullEach(ctx, "", 1, func(platformapi.Item) error { return nil })
		if err == nil {
			break
		}
	}
	switch {
	case err == nil:
		l.health.pullOK()
		check.OK = true
	case ctx.Err() != nil:
		check.Code, check.Detail = probe.CodeTimeout, "the platform did not answer in time"
	default:
		l.health.pullFailed(err, true)
		check.Code = failureCode(err, UnreachableAfter)
		check.Detail = describe(check.Code, err).Title
	}
	return []probe.Check{check}
}
