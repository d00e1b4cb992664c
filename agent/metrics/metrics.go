// Package metrics exports the service's state for fleet monitoring in the Prometheus text
// format (at the local API's /metrics): queue depth per state, the overall state and the
// active conditions, filings and filing failures by reason, and the time of the last
// successful filing. Labels carry states, codes and versions, never patient data.
//
// Filings are counted by watching the queue (its audit trail), so the filing engine needs
// no metrics code of its own.
package metrics

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"

	"github.com/writeback-agent/wbagent/agent/bus"
	"github.com/writeback-agent/wbagent/agent/condition"
	"github.com/writeback-agent/wbagent/agent/queue"
	"github.com/writeback-agent/wbagent/agent/status"
)

// Metric names. Serialised (dashboards and alerts use them): never change them.
const (
	NameQueueRecords = "wbagent_queue_records"
	NameState        = "wbagent_state"
	NameCondition    = "wbagent_condition"
	NameFilings      = "wbagent_filings_total"
	NameFailures     = "wbagent_filing_failures_total"
	NameLastFiled    = "wbagent_last_filing_success_timestamp_seconds"
	NameBuildInfo    = "wbagent_build_info"
)

// Failure codes that are not fit for a label are counted under reasonOther.
const (
	reasonOther       = "other"
	maxLabelValueSize = 64
)

// safeLabel matches the failure codes used as label values; anything else is counted as
// "other", so nothing but a code can reach a label.
var safeLabel = regexp.MustCompile(`^[A-Za-z0-9_.:-]+$`)

// Options configure New.
type Options struct {
	Queue   *queue.Queue
	Status  *status.Reporter
	Version string
	Logger  *slog.Logger
	Now     func() time.Time // for tests
}

// Metrics holds the service's metrics.
type Metrics struct {
	opts      Options
	reg       *prometheus.Registry
	filings   prometheus.Counter
	failures  *prometheus.CounterVec
	lastFiled prometheus.Gauge
	started   time.Time

	// Used by Run's goroutine only.
	seen       map[uint64]progress
	lastPrune  time.Time
	lastFiledT time.Time
}

// progress is how far a record's audit trail has been counted.
type progress struct {
	seq      uint64    // the last entry counted
	finished time.Time // when it was seen reach a terminal state (nothing more to count)
}

// forgetAfter is how long a finished record is remembered, so that a late notification of
// one of its changes does not count it again.
const forgetAfter = time.Hour

// New registers the metrics.
func New(opts Options) *Metrics {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m := &Metrics{
		opts: opts,
		reg:  prometheus.NewRegistry(),
		filings: prometheus.NewCounter(prometheus.CounterOpts{Name: NameFilings,
			Help: "Writebacks filed into the clinical system since the service started."}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameFailures,
			Help: "Failed filing attempts since the service started, by reason code."}, []string{"reason"}),
		lastFiled: prometheus.NewGauge(prometheus.GaugeOpts{Name: NameLastFiled,
			Help: "When the last writeback was filed (Unix time; 0: none)."}),
		started: opts.Now(),
		seen:    map[uint64]progress{},
	}
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: NameBuildInfo,
		Help: "The service's version (always 1)."}, []string{"version", "goversion"})
	build.WithLabelValues(opts.Version, runtime.Version()).Set(1)
	m.reg.MustRegister(m.filings, m.failures, m.lastFiled, build, stateCollector{opts.Status, opts.Logger},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(m.opts.Logger.Handler(), slog.LevelWarn)})
}

// WriteText writes the metrics in the Prometheus text format (for diagnostics bundles).
func (m *Metrics) WriteText(w io.Writer) error {
	families, err := m.reg.Gather()
	if err != nil {
		return err
	}
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range families {
		if err := enc.Encode(f); err != nil {
			return err
		}
	}
	return nil
}

// Run counts filings and failures from the queue's changes until ctx ends. It first finds
// the time of the last filing already in the queue.
func (m *Metrics) Run(ctx context.Context, sub *bus.Subscription) {
	defer sub.Close()
	m.findLastFiled()
	for {
		select {
		case <-ctx.Done():
			return
		case <-sub.Ready():
		}
		for _, id := range sub.Take().Records {
			m.settle(id)
		}
		m.prune()
	}
}

// prune forgets records finished long ago.
func (m *Metrics) prune() {
	now := m.opts.Now()
	if now.Sub(m.lastPrune) < forgetAfter/4 {
		return
	}
	m.lastPrune = now
	for id, p := range m.seen {
		if !p.finished.IsZero() && now.Sub(p.finished) > forgetAfter {
			delete(m.seen, id)
		}
	}
}

// settle counts the filing outcomes in a changed record's audit entries not yet counted.
// The trail is read as it is now, which may include changes whose notifications are still
// to come: progress makes those count once.
func (m *Metrics) settle(id uint64) {
	p := m.seen[id]
	if !p.finished.IsZero() {
		return
	}
	err := m.opts.Queue.Audit(p.seq, id, func(e queue.AuditEntry) error {
		p.seq = e.Seq
		if e.To.Terminal() {
			p.finished = m.opts.Now()
		}
		if e.At.Before(m.started) {
			return nil
		}
		switch e.Action {
		case queue.ActionFiled:
			m.filings.Inc()
			m.filedAt(e.At)
		case queue.ActionFilingFailed:
			m.failures.WithLabelValues(label(e.Detail)).Inc()
		}
		return nil
	})
	if err != nil {
		m.opts.Logger.Warn("metrics: read a record's audit trail", "record", id, "err", err)
	}
	m.seen[id] = p
}

func (m *Metrics) findLastFiled() {
	err := m.opts.Queue.Each(queue.Filter{States: []queue.State{queue.Filed}}, func(r *queue.Record) error {
		for _, a := range r.Attempts {
			if a.Outcome == queue.ActionFiled {
				m.filedAt(a.At)
			}
		}
		return nil
	})
	if err != nil {
		m.opts.Logger.Warn("metrics: find the last filing", "err", err)
	}
}

func (m *Metrics) filedAt(t time.Time) {
	if t.After(m.lastFiledT) {
		m.lastFiledT = t
		m.lastFiled.Set(float64(t.UnixNano()) / 1e9)
	}
}

// label returns a failure code fit for a label value.
func label(code string) string {
	if len(code) > maxLabelValueSize || !safeLabel.MatchString(code) {
		return reasonOther
	}
	return code
}

// stateCollector reports the queue's counts, the overall state and the conditions, as they
// are when scraped.
type stateCollector struct {
	status *status.Reporter
	log    *slog.Logger
}

var (
	descRecords   = prometheus.NewDesc(NameQueueRecords, "Writebacks in the queue, by state.", []string{"state"}, nil)
	descState     = prometheus.NewDesc(NameState, "The overall state (1 for the current one).", []string{"state"}, nil)
	descCondition = prometheus.NewDesc(NameCondition, "Active conditions (1 each), by code, severity and who fixes it.",
		[]string{"code", "severity", "owner"}, nil)
)

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descRecords
	ch <- descState
	ch <- descCondition
}

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	rep, err := c.status.Report()
	if err != nil {
		c.log.Warn("metrics: status", "err", err)
		return
	}
	for _, s := range queue.States {
		ch <- prometheus.MustNewConstMetric(descRecords, prometheus.GaugeValue, float64(rep.Counts[s]), string(s))
	}
	for _, s := range []condition.Overall{condition.OK, condition.Attention, condition.Blocked} {
		v := 0.0
		if rep.State == s {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, v, string(s))
	}
	for _, cond := range rep.Conditions {
		ch <- prometheus.MustNewConstMetric(descCondition, prometheus.GaugeValue, 1,
			label(cond.Code), string(cond.Severity), string(cond.Owner))
	}
}
