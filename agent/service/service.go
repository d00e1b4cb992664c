// Package service assembles the Writeback Agent service: it opens the data folder, the
// queue and the link store, serves the local API on the local socket, exports metrics,
// and runs the components plugged into it (the filing engine, the platform link and the
// integration watcher join here), then stops them all in order within a few seconds.
//
// It knows nothing of the operating system's service manager (cmd/wbagentd wraps it).
package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"time"

	"github.com/writeback-agent/wbagent/agent/bus"
	"github.com/writeback-agent/wbagent/agent/condition"
	"github.com/writeback-agent/wbagent/agent/config"
	"github.com/writeback-agent/wbagent/agent/diag"
	"github.com/writeback-agent/wbagent/agent/link"
	"github.com/writeback-agent/wbagent/agent/localapi"
	"github.com/writeback-agent/wbagent/agent/metrics"
	"github.com/writeback-agent/wbagent/agent/paths"
	"github.com/writeback-agent/wbagent/agent/probe"
	"github.com/writeback-agent/wbagent/agent/queue"
	"github.com/writeback-agent/wbagent/agent/safesocket"
	"github.com/writeback-agent/wbagent/agent/seal"
	"github.com/writeback-agent/wbagent/agent/status"
)

// DefaultStopGrace is how long components get to stop unless Options say otherwise.
const DefaultStopGrace = 5 * time.Second

// apiStopTimeout bounds how long requests in progress may take when the service stops: long
// enough for an unlink to finish revoking the sign-in at the clinical system.
const apiStopTimeout = link.RevokeTimeout + time.Second

// FilingRetry is the queue's back-off between filing attempts that failed for a passing
// reason: about 0.75–1.5 s, then 1.1–2.3 s, 1.7–3.4 s … (×1.5) up to every 30 minutes, and
// attention after 20 failures in a row (after about 1 to 1.5 hours). A failure of the integration is not
// counted (the engine releases the record and pauses its author instead).
var FilingRetry = queue.RetryPolicy{Initial: 1500 * time.Millisecond, Max: 30 * time.Minute, Multiplier: 1.5, Jitter: 0.5, MaxAttempts: 20}

// CodeComponentStopped is the condition reported when a component stops on its own.
// Serialised: never change it.
const CodeComponentStopped = "component-stopped"

// boardSource is the service's own name on the condition board.
const boardSource = "service"

// A Component is a long-running part of the service: the filing engine, the platform link,
// the integration watcher. Run starts after the queue, the link store and the local API are
// up, and must return soon after ctx is cancelled — within Options.StopGrace, having
// finished or released (queue.Release) any filing it holds; a filing still leased when the
// queue closes is recovered at the next start as "outcome unknown", which is safe but
// slower. A Run that returns while the service runs is logged and reported as a blocking
// condition.
type Component interface {
	Name() string
	Run(ctx context.Context, env Env) error
}

// Env is what a component works with.
type Env struct {
	Config config.Config
	Queue  *queue.Queue
	// Links gives the token source of each linked clinical user (Links.TokenSource).
	Links *link.Store
	// Conditions is where the component reports what it finds (Board.Set with its name).
	Conditions *condition.Board
	// Bus tells what changed: queue records, links, conditions (Subscribe, then Ready/Take).
	Bus    *bus.Bus
	Logger *slog.Logger
	// DataDir is the data folder (restricted to the service) for the component's own files.
	DataDir string
	// Sealer seals the component's secrets at rest with the data key (package seal).
	Sealer *seal.Sealer
	// Patients is where the component that reaches the clinical system offers its patient
	// look-up to the local API (Patients.Set).
	Patients *PatientLookup
	// Probes is where a component that watches a link registers how to check it now
	// (POST /probe, wbagent doctor).
	Probes *probe.Registry
}

// Options configure Start.
type Options struct {
	DataDir    string
	Config     config.Config
	Logger     *slog.Logger
	LogDir     string // for diagnostics bundles; default DataDir/logs
	Version    string
	Components []Component
	StopGrace  time.Duration // how long components get to stop; default DefaultStopGrace
	// Identify replaces the caller identification of the local API (tests).
	Identify func(net.Conn) (safesocket.Identity, error)
}

// Service is a running service.
type Service struct {
	opts    Options
	socket  string
	queue   *queue.Queue
	api     *localapi.Server
	board   *condition.Board
	started time.Time

	stopOnce   sync.Once
	stopErr    error
	cancelComp context.CancelFunc
	components sync.WaitGroup
	cancelBg   context.CancelFunc
	background sync.WaitGroup
}

// Start opens everything and starts serving. It returns once the local API accepts
// connections.
func Start(opts Options) (_ *Service, err error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.LogDir == "" {
		opts.LogDir = filepath.Join(opts.DataDir, paths.LogsDir)
	}
	if opts.StopGrace <= 0 {
		opts.StopGrace = DefaultStopGrace
	}
	log := opts.Logger
	s := &Service{opts: opts, socket: opts.Config.LocalAPI.Socket, started: time.Now()}
	if s.socket == "" {
		s.socket = safesocket.DefaultPath()
	}
	var undo []func()
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
		}
	}()

	if err := paths.Secure(opts.DataDir); err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	key, err := seal.LoadOrCreateKey(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	sealer, err := seal.New(key)
	if err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	b := bus.New()
	statusChanged := func() { b.Publish(bus.Event{Status: true}) }
	s.board = condition.NewBoard(statusChanged)
	s.queue, err = queue.Open(queue.Options{
		Dir: opts.DataDir, Key: key, Logger: log, Retention: opts.Config.Retention(), Retry: FilingRetry,
		OnChange: func(changes []queue.Change) {
			ids := make([]uint64, len(changes))
			for i, c := range changes {
				ids[i] = c.ID
			}
			b.Publish(bus.Event{Records: ids})
		},
		// A failed write (disk full, sync error) until the queue saves again by itself.
		OnConditions: func(conds []condition.Condition) { s.board.Set(boardSource+"/queue", conds) },
	})
	if err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	undo = append(undo, func() { s.queue.Close() })
	links, err := link.Open(link.Options{
		Dir: opts.DataDir, Sealer: sealer, Logger: log, OnChange: statusChanged,
		Settings: link.Settings{Issuer: opts.Config.Clinical.Issuer, ClientID: opts.Config.Clinical.ClientID,
			Scopes: opts.Config.Clinical.Scopes},
	})
	if err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	reporter := status.New(s.queue, links, s.board)
	m := metrics.New(metrics.Options{Queue: s.queue, Status: reporter, Version: opts.Version, Logger: log})

	bg, cancelBg := context.WithCancel(context.Background())
	s.cancelBg = cancelBg
	undo = append(undo, func() { cancelBg(); s.background.Wait() })
	sub := b.Subscribe(0)
	s.background.Go(func() { m.Run(bg, sub) })

	patients := &PatientLookup{}
	probes := probe.New()
	s.api = localapi.New(localapi.Options{
		Queue: s.queue, Links: links, Status: reporter, Bus: b, Metrics: m.Handler(), Probe: probes.Run,
		Identify: opts.Identify, Logger: log, Version: opts.Version, FindPatients: patients.FindPatients,
		Diag: func(ctx context.Context, w io.Writer) error {
			rep, err := reporter.Report()
			if err != nil {
				return err
			}
			return diag.Write(w, diag.Bundle{Version: opts.Version, Started: s.started, Config: opts.Config,
				Status: rep, Accounts: links.Accounts(), Links: len(links.Links()), Metrics: m.WriteText,
				LogDir: opts.LogDir, Now: time.Now()})
		},
	})
	ln, err := safesocket.Listen(s.socket)
	if err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	s.background.Go(func() {
		if err := s.api.Serve(ln); err != nil {
			log.Error("local API stopped", "err", err)
		}
	})

	compCtx, cancelComp := context.WithCancel(context.Background())
	s.cancelComp = cancelComp
	env := Env{Config: opts.Config, Queue: s.queue, Links: links, Conditions: s.board, Bus: b, Logger: log,
		DataDir: opts.DataDir, Sealer: sealer, Patients: patients, Probes: probes}
	for _, c := range opts.Components {
		s.components.Go(func() { s.runComponent(compCtx, c, env) })
	}

	counts, _ := s.queue.Counts()
	attrs := []any{"version", opts.Version, "data", opts.DataDir, "socket", s.socket, "links", len(links.Links())}
	for _, st := range queue.States {
		attrs = append(attrs, string(st), counts[st])
	}
	log.Info("service started", attrs...)
	return s, nil
}

// runComponent runs c until the service stops, and reports it if it stops on its own.
func (s *Service) runComponent(ctx context.Context, c Component, env Env) {
	env.Logger = env.Logger.With("component", c.Name())
	err := c.Run(ctx, env)
	if ctx.Err() != nil {
		return
	}
	if err == nil {
		err = errors.New("returned without an error")
	}
	s.opts.Logger.Error("a component stopped", "component", c.Name(), "err", err)
	s.board.Set(boardSource+"/"+c.Name(), []condition.Condition{{
		Code: CodeComponentStopped, Severity: condition.Blocking, Owner: condition.IT,
		Title: "Writeback Agent's " + c.Name() + " stopped",
		Fix: "Restart the Writeback Agent service (Services > Writeback Agent > Restart). " +
			"If it stops again, make a diagnostics bundle (wbagent diag --out diag.zip) and send it to the supplier.",
	}})
}

// Stop stops the service: the local API first (clients see it go), then the components
// (within StopGrace), then the queue. It is safe to call more than once.
func (s *Service) Stop() error {
	s.stopOnce.Do(func() {
		log := s.opts.Logger
		log.Info("service stopping")
		ctx, cancel := context.WithTimeout(context.Background(), apiStopTimeout)
		if err := s.api.Shutdown(ctx); err != nil {
			log.Warn("local API: requests cut short at stop", "err", err)
		}
		cancel()

		s.cancelComp()
		done := make(chan struct{})
		go func() { s.components.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(s.opts.StopGrace):
			log.Warn("components still running at stop; their filings are checked at the next start",
				"grace", s.opts.StopGrace)
		}

		s.cancelBg()
		s.background.Wait()
		s.stopErr = s.queue.Close()
		if s.stopErr != nil {
			s.stopErr = fmt.Errorf("service: stop: %w", s.stopErr)
		}
		log.Info("service stopped")
	})
	return s.stopErr
}
