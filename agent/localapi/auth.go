package localapi

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/writeback-agent/wbagent/agent/link"
	"github.com/writeback-agent/wbagent/agent/localapi/apitype"
	"github.com/writeback-agent/wbagent/agent/queue"
	"github.com/writeback-agent/wbagent/agent/safesocket"
)

type identityKey struct{}

// connIdentity is who a connection belongs to, found once when it is accepted.
type connIdentity struct {
	id  safesocket.Identity
	err error
}

func (s *Server) identify(ctx context.Context, c net.Conn) context.Context {
	id, err := s.opts.Identify(c)
	return context.WithValue(ctx, identityKey{}, connIdentity{id, err})
}

// guard refuses requests a web page could have made and requests from callers that could
// not be identified, and logs every request (never its body or patient data).
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		ci, _ := r.Context().Value(identityKey{}).(connIdentity)
		switch {
		case r.Header.Get("Origin") != "" || r.Header.Get("Referer") != "":
			writeError(rec, http.StatusForbidden, apitype.CodeForbidden, "requests from web pages are refused")
		case r.Host != apitype.Host:
			writeError(rec, http.StatusForbidden, apitype.CodeForbidden, fmt.Sprintf("unexpected Host %q", r.Host))
		case ci.err != nil || ci.id.UserID == "":
			s.opts.Logger.Warn("local API caller not identified", "err", ci.err)
			writeError(rec, http.StatusForbidden, apitype.CodeForbidden, "the caller could not be identified")
		default:
			next.ServeHTTP(rec, r)
		}
		level := slog.LevelDebug
		if rec.status >= http.StatusInternalServerError {
			level = slog.LevelError
		}
		s.opts.Logger.Log(r.Context(), level, "local API request", "method", r.Method, "route", r.Pattern,
			"status", rec.status, "osUser", ci.id.User, "ms", time.Since(start).Milliseconds())
	})
}

// statusRecorder remembers the status a handler answered with.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection (flushing, write deadlines).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// caller is an identified OS user and their link, if any.
type caller struct {
	safesocket.Identity
	link *link.Link
}

func (s *Server) caller(r *http.Request) caller {
	ci, _ := r.Context().Value(identityKey{}).(connIdentity)
	return s.callerOf(ci.id)
}

func (s *Server) callerOf(id safesocket.Identity) caller {
	c := caller{Identity: id}
	if l, ok := s.opts.Links.ForOSUser(id.UserID); ok {
		c.link = &l
	}
	return c
}

// linkedTo returns the clinical user the caller is linked to, or "".
func (c caller) linkedTo() string {
	if c.link == nil {
		return ""
	}
	return c.link.ClinicalUserID
}

// owns reports whether rec belongs to the clinical user the caller is linked to.
func (c caller) owns(rec *queue.Record) bool {
	return rec.Author != "" && rec.Author == c.linkedTo()
}

// actor is the caller as the queue's audit trail records them.
func (c caller) actor() queue.Actor {
	return queue.Actor{OSUser: c.User, ClinicalUser: c.linkedTo()}
}

// notOwner explains why a caller may not act on someone else's writeback.
func (c caller) notOwner(rec *queue.Record, action string) string {
	if c.link == nil {
		return fmt.Sprintf("only the clinician this writeback belongs to may %s it, and %s is not linked to the clinical system (run: wbagent link)", action, c.User)
	}
	return fmt.Sprintf("only the clinician this writeback belongs to (clinical user %s) may %s it; %s is linked to clinical user %s",
		rec.Author, action, c.User, c.link.ClinicalUserID)
}
