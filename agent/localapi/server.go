// Package localapi is the service's local API: HTTP/1.1 and JSON over the local socket
// (package safesocket), for the CLI, the tray and the windows.
//
// Every connection is identified (the pipe client's token, the socket peer's credentials)
// and every request authorised by what it asks for:
//
//   - anyone at the PC: the overall status, the watch stream, a probe of the integration
//     (shared and bounded: package probe), the queue list (no patient data), a record's
//     summary and audit trail, the metrics, their own link;
//   - the record's clinician (the OS user linked to the clinical user who wrote it): its
//     patient content, attachments and reason text, the clinical system's match for its
//     patient, confirm, reject;
//   - the record's clinician or an administrator: retry;
//   - an administrator: enqueue, cancel, unlink another user, the diagnostics bundle.
//
// Requests with an Origin or Referer header, or a Host other than apitype.Host, are
// refused: a web page must never reach the API. Routes and shapes: package apitype.
package localapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/writeback-agent/wbagent/agent/bus"
	"github.com/writeback-agent/wbagent/agent/clinical"
	"github.com/writeback-agent/wbagent/agent/link"
	"github.com/writeback-agent/wbagent/agent/localapi/apitype"
	"github.com/writeback-agent/wbagent/agent/probe"
	"github.com/writeback-agent/wbagent/agent/queue"
	"github.com/writeback-agent/wbagent/agent/safesocket"
	"github.com/writeback-agent/wbagent/agent/status"
)

// Options configure a Server. Every field but Identify and Logger is required.
type Options struct {
	Queue   *queue.Queue
	Links   *link.Store
	Status  *status.Reporter
	Bus     *bus.Bus
	Metrics http.Handler
	// Diag writes the diagnostics bundle (a zip) to w.
	Diag func(ctx context.Context, w io.Writer) error
	// Probe checks the integration now (probe.Registry.Run); nil: POST /probe answers with
	// no checks and the current status.
	Probe func(ctx context.Context) (probe.Result, error)
	// Identify says who is at the other end of a connection; nil means
	// safesocket.PeerIdentity. Tests replace it to play several OS users.
	Identify func(net.Conn) (safesocket.Identity, error)
	Logger   *slog.Logger
	Version  string
	// FindPatients, if set, looks a patient up in the clinical system as a clinician (the
	// record's author), for the review of a record waiting for confirmation.
	FindPatients func(ctx context.Context, clinicalUserID, nhsNumber string) ([]clinical.Patient, error)
}

// Server serves the local API.
type Server struct {
	opts     Options
	srv      *http.Server
	stopping chan struct{} // closed by Shutdown: ends the watch streams
	stopOnce sync.Once
	filed    lastFiled // when the service last filed (status.go)
	tracking sync.Once // starts trackFilings
}

// New returns a server; call Serve.
func New(opts Options) *Server {
	if opts.Identify == nil {
		opts.Identify = safesocket.PeerIdentity
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: opts, stopping: make(chan struct{})}
	s.srv = &http.Server{
		Handler:           s.guard(s.routes()),
		ConnContext:       s.identify,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
	}
	return s
}

// Serve answers requests on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	s.tracking.Do(func() { go s.trackFilings() })
	if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops accepting connections, ends the watch streams and waits (until ctx ends)
// for the requests in progress.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() { close(s.stopping) })
	return s.srv.Shutdown(ctx)
}

// routes maps every route to its handler and the authorisation it needs.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+apitype.PathStatus, s.status)
	mux.HandleFunc("GET "+apitype.PathWatch, s.watch)
	mux.HandleFunc("GET "+apitype.PathQueue, s.list)
	mux.HandleFunc("POST "+apitype.PathQueue, s.enqueue)
	mux.HandleFunc("GET "+apitype.PathRecord, s.record)
	mux.HandleFunc("GET "+apitype.PathAttachment, s.attachment)
	mux.HandleFunc("POST "+apitype.PathConfirm, s.confirm)
	mux.HandleFunc("POST "+apitype.PathReject, s.reject)
	mux.HandleFunc("POST "+apitype.PathRetry, s.retry)
	mux.HandleFunc("POST "+apitype.PathCancel, s.cancel)
	mux.HandleFunc("GET "+apitype.PathLink, s.getLink)
	mux.HandleFunc("POST "+apitype.PathLink, s.postLink)
	mux.HandleFunc("DELETE "+apitype.PathLink, s.deleteLink)
	mux.HandleFunc("GET "+apitype.PathDiag, s.diag)
	mux.HandleFunc("POST "+apitype.PathProbe, s.probe)
	mux.Handle("GET "+apitype.PathMetrics, s.opts.Metrics)
	return mux
}
