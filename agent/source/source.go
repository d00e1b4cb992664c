package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/writeback-agent/wbagent/agent/source/platformapi"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"time"

	"github.com/writeback-agent/wbagent/agent/condition"
	"github.com/writeback-agent/wbagent/agent/config"
	"github.com/writeback-agent/wbagent/agent/probe"
	"github.com/writeback-agent/wbagent/agent/queue"
	"github.com/writeback-agent/wbagent/agent/service"
	"github.com/writeback-agent/wbagent/agent/writeback"
)

// Reason codes the source itself reports for documents it could not queue. Serialised.
const (
	CodeInvalidDocument = "invalid-document"
	CodeJobIDMismatch   = "job-id-mismatch"
	// CodeJobConflict is the reason of a "conflict" outcome: the job id was sent again with
	// other content.
	CodeJobConflict = "job-resent-with-different-content"
)

// DefaultBackoff waits about 1 s, 2 s, 4 s … at most 5 minutes between tries while the
// platform fails.
var DefaultBackoff = queue.RetryPolicy{Initial: time.Second, Max: 5 * time.Minute, Multiplier: 2, Jitter: 0.5}

// Component is the platform link as a service component. Its zero value uses the
// configuration (source.url, source.poll_seconds) and the enrolment credential sealed in the
// data folder (CredentialFile, `wbagentd enrol`); without source.url it does nothing.
type Component struct {
	Poll       time.Duration     // overrides source.poll_seconds (tests)
	Backoff    queue.RetryPolicy // zero: DefaultBackoff
	HTTPClient *http.Client
}

// CodeNotEnrolled is the condition reported when source.url is set but the PC has no
// usable enrolment credential. Serialised: never change it.
const CodeNotEnrolled = "source-not-enrolled"

// credential returns the enrolment credential sealed in the data folder. A credential still
// in the configuration (source.credential, the old way) is sealed there first, with a
// warning telling IT to remove it from the file; its value is never logged.
func credential(env service.Env) (string, error) {
	if raw := env.Config.Source.Credential; raw != "" {
		stored, err := LoadCredential(env.DataDir, env.Sealer)
		clean, cerr := CleanCredential(raw)
		if cerr != nil {
			return "", fmt.Errorf("source: %s: %w", config.SettingSourceCred, cerr)
		}
		if err != nil || stored != clean {
			if err := SealCredential(env.DataDir, env.Sealer, clean); err != nil {
				return "", err
			}
		}
		env.Logger.Warn("the enrolment credential is in the configuration file: it is now stored encrypted in the data folder; "+
			"remove the setting from the file (the value is not shown)", "setting", config.SettingSourceCred,
			"stored", filepath.Join(env.DataDir, CredentialFile))
		return clean, nil
	}
	return LoadCredential(env.DataDir, env.Sealer)
}

// Name implements service.Component.
func (Component) Name() string { return "source" }

var actor = queue.Actor{Component: "source"}

// Run implements service.Component: it pulls and reports until ctx ends.
func (c Component) Run(ctx context.Context, env service.Env) error {
	cfg := env.Config.Source
	if adopted, err := AdoptPendingCredential(env.DataDir, env.Sealer); err != nil {
		env.Logger.Error("the enrolment credential wbagentd enrol left could not be stored", "err", err)
	} else if adopted {
		env.Logger.Info("the enrolment credential wbagentd enrol left is now stored encrypted", "stored", filepath.Join(env.DataDir, CredentialFile))
	}
	if cfg.URL == "" {
		<-ctx.Done()
		return nil
	}
	if c.Poll <= 0 {
		c.Poll = time.Duration(cfg.PollSeconds) * time.Second
	}
	if c.Backoff.Initial <= 0 {
		c.Backoff = DefaultBackoff
	}
	cred, err := credential(env)
	if err != nil {
		env.Logger.Error("platform link not started: no usable enrolment credential", "err", err)
		env.Conditions.Set(c.Name(), []condition.Condition{{
			Code: CodeNotEnrolled, Severity: condition.Blocking, Owner: condition.IT,
			Title: "Writeback Agent is not enrolled with the online consultation platform: no writebacks are pulled",
			Fix: "Save the enrolment credential the platform issued to this PC in a file only administrators can read.\n" +
				"As an administrator, run: wbagentd enrol --credential-file FILE\n" +
				"Delete the file, then restart the Writeback Agent service.",
		}})
		if env.Probes != nil {
			env.Probes.Register(probeSubject, probeTitle, func(context.Context) []probe.Check {
				return []probe.Check{{Subject: probeSubject, Title: probeTitle, Code: CodeNotEnrolled,
					Detail: "Writeback Agent is not enrolled with the platform: no writebacks are pulled"}}
			})
		}
		<-ctx.Done()
		return nil
	}
	env.Conditions.Set(c.Name(), nil)
	l := &loop{c: c, env: env, cl: NewClient(cfg.URL, env.Config.Practice.ODS, cred, c.HTTPClient),
		log: env.Logger.With("component", "source"), health: newHealth(env.Conditions, c.Name())}
	if env.Probes != nil {
		env.Probes.Register(probeSubject, probeTitle, l.probe)
	}
	done := make(chan struct{})
	go func() { defer close(done); l.report(ctx) }()
	l.pull(ctx)
	<-done
	return nil
}

type loop struct {
	c      Component
	env    service.Env
	cl     *Client
	log    *slog.Logger
	health *health
}

// sleep waits d or until ctx ends; it reports whether to go on.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// pull pulls pages, queues each and acknowledges it, until ctx ends.
func (l *loop) pull(ctx context.Context) {
	cursor, failures := "", 0
	for ctx.Err() == nil {
		next, n, err := l.take(ctx, cursor)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			var local *localError
			if !errors.As(err, &local) {
				l.health.pullFailed(err, false) // the agent's own store failing is not the platform's fault
			}
			if failures == 1 || failures%10 == 0 {
				l.log.Warn("platform pull failed; retrying with back-off", "err", err, "failures", failures)
			}
			sleep(ctx, l.c.Backoff.Delay(failures, rand.Float64()))
			continue
		}
		failures = 0
		l.health.pullOK()
		if n > 0 {
			cursor = next
		}
		if n < platformapi.DefaultLimit {
			sleep(ctx, l.c.Poll)
		}
	}
}

// take pulls the page after cursor as a stream, queues it in one transaction, reports the
// documents that cannot be queued and the jobs sent again with other content, and only
// then acknowledges the page. It returns the page's next cursor and its item count.
func (l *loop) take(ctx context.Context, cursor string) (string, int, error) {
	var subs []queue.Submission
	var outs []platformapi.Outcome
	var ids []string
	discard := func() {
		for _, s := range subs {
			if s.Stage != nil {
				s.Stage.Discard()
			}
		}
	}
	now := func() string { return time.Now().UTC().Format(time.RFC3339) }
	next, n, err := l.cl.PullEach(ctx, cursor, platformapi.DefaultLimit, func(it platformapi.Item) error {
		ids = append(ids, it.JobID)
		st := l.env.Queue.NewStage()
		doc, err := writeback.Decode(bytes.NewReader(it.Document), st)
		var ve *writeback.ValidationError
		switch {
		case errors.As(err, &ve):
			st.Discard()
			l.log.Warn("platform sent an invalid writeback", "job", it.JobID, "problems", ve.Error())
			outs = append(outs, platformapi.Outcome{JobID: it.JobID, State: platformapi.OutcomeInvalid, ReasonCode: CodeInvalidDocument, At: now()})
			return nil
		case err != nil:
			st.Discard()
			return &localError{fmt.Errorf("source: store job %s: %w", it.JobID, err)}
		case doc.JobID != it.JobID:
			st.Discard()
			outs = append(outs, platformapi.Outcome{JobID: it.JobID, State: platformapi.OutcomeInvalid, ReasonCode: CodeJobIDMismatch, At: now()})
			return nil
		}
		subs = append(subs, queue.Submission{Doc: doc, Stage: st})
		return nil
	})
	if err != nil {
		discard()
		return "", 0, err
	}
	if n == 0 {
		return next, 0, nil
	}
	if len(subs) > 0 {
		res, err := l.env.Queue.EnqueueBatch(ctx, subs, actor)
		if err != nil {
			discard()
			return "", 0, &localError{fmt.Errorf("source: queue page: %w", err)}
		}
		for _, r := range res {
			if r.Conflict {
				l.log.Warn("platform resent a job with different content; the first is kept and the platform told", "job", r.JobID, "record", r.ID)
				outs = append(outs, platformapi.Outcome{JobID: r.JobID, State: platformapi.OutcomeConflict, ReasonCode: CodeJobConflict, At: now()})
				l.health.conflict(r.JobID, r.ID)
			}
		}
	}
	// Invalid and conflicting documents were never queued: they are reported, then
	// acknowledged with the page, so the platform does not offer them again (a repeat
	// report is harmless).
	if len(outs) > 0 {
		if err := l.cl.Report(ctx, outs); err != nil {
			return "", 0, err
		}
	}
	return next, n, l.cl.Ack(ctx, ids)
}

// localError is a failure of the agent's own (its store), not of the platform.
type localError struct{ err error }

func (e *localError) Error() string { return e.err.Error() }
func (e *localError) Unwrap() error { return e.err }

// outcomeOf returns the outcome to report for a record, if it has one.
func outcomeOf(r *queue.Record) (platformapi.Outcome, bool) {
	o := platformapi.Outcome{JobID: r.JobID, At: r.UpdatedAt.UTC().Format(time.RFC3339)}
	if r.Reason != nil {
		o.ReasonCode = r.Reason.Code
	}
	switch r.State {
	case queue.Filed:
		o.State, o.ReasonCode = platformapi.OutcomeFiled, ""
		o.ConsultationGUID, o.ConsultationID = r.ConsultationGUID, r.ConsultationID
	case queue.Rejected:
		o.State = platformapi.OutcomeReject
	case queue.Cancelled:
		o.State = platformapi.OutcomeCancel
	case queue.NeedsAttention:
		o.State = platformapi.OutcomeAttn
	default:
		return platformapi.Outcome{}, false
	}
	return o, true
}

var reportable = []queue.State{queue.Filed, queue.Rejected, queue.Cancelled, queue.NeedsAttention}

// report sends outcomes not yet reported: all of them at start and after a resync, then
// those of the records the bus says changed.
func (l *loop) report(ctx context.Context) {
	sub := l.env.Bus.Subscribe(0)
	defer sub.Close()
	pending := map[uint64]platformapi.Outcome{} // by record id
	consider := func(r *queue.Record) {
		if o, ok := outcomeOf(r); ok && r.Reported != reportKey(o) {
			pending[r.ID] = o
		}
	}
	scan := func() {
		if err := l.env.Queue.Each(queue.Filter{States: reportable}, func(r *queue.Record) error {
			consider(r)
			return nil
		}); err != nil {
			l.log.Warn("source: scan outcomes", "err", err)
		}
	}
	scan()
	failures := 0
	for {
		if len(pending) > 0 {
			if err := l.send(ctx, pending); err != nil {
				if ctx.Err() != nil {
					return
				}
				failures++
				if failures == 1 || failures%10 == 0 {
					l.log.Warn("platform outcome report failed; retrying with back-off", "err", err, "failures", failures)
				}
				select {
				case <-ctx.Done():
					return
				case <-time.After(l.c.Backoff.Delay(failures, rand.Float64())):
				}
				continue
			}
			failures = 0
		}
		select {
		case <-ctx.Done():
			return
		case <-sub.Ready():
		}
		ev := sub.Take()
		if ev.Resync {
			scan()
		}
		for _, id := range ev.Records {
			if r, err := l.env.Queue.Get(id); err == nil {
				consider(r)
			}
		}
	}
}

// send reports pending outcomes in batches, marking each batch reported on its records (in
// the queue, one commit) once the platform took it. A crash between the two reports a batch
// again, which the platform accepts harmlessly; it never loses one.
func (l *loop) send(ctx context.Context, pending map[uint64]platformapi.Outcome) error {
	const batch = 200
	var outs []platformapi.Outcome
	var marks []queue.ReportMark
	flush := func() error {
		if len(outs) == 0 {
			return nil
		}
		if err := l.cl.Report(ctx, outs); err != nil {
			return err
		}
		if err := l.env.Queue.MarkReported(ctx, marks, actor); err != nil {
			return fmt.Errorf("source: mark reported: %w", err)
		}
		for _, m := range marks {
			delete(pending, m.ID)
		}
		outs, marks = outs[:0], marks[:0]
		return nil
	}
	for id, o := range pending {
		outs = append(outs, o)
		marks = append(marks, queue.ReportMark{ID: id, Key: reportKey(o)})
		if len(outs) == batch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// reportKey identifies an outcome for Record.Reported: its state and reason code.
func reportKey(o platformapi.Outcome) string { return o.State + "|" + o.ReasonCode }
