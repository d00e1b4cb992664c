package localapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"time"

	"github.com/writeback-agent/wbagent/agent/localapi/apitype"
	"github.com/writeback-agent/wbagent/agent/queue"
)

// watchBacklog is how many changed records a watcher may fall behind by before it is sent
// the whole state again instead.
const watchBacklog = 1000

// writeTimeout bounds each write to a watcher: one that stops reading is dropped.
const writeTimeout = 10 * time.Second

// liveStates are the states of records that are not finished.
var liveStates = []queue.State{queue.Received, queue.NeedsConfirmation, queue.Ready, queue.Filing, queue.NeedsAttention}

// GET /watch: anyone. Newline-delimited JSON events: first the whole state, then each
// change as it happens, until the client goes away or the service stops.
func (s *Server) watch(w http.ResponseWriter, r *http.Request) {
	c := s.caller(r)
	sub := s.opts.Bus.Subscribe(watchBacklog) // before reading the state: nothing is missed
	defer sub.Close()

	rc := http.NewResponseController(w)
	defer rc.SetWriteDeadline(time.Time{}) // the connection may serve other requests after
	w.Header().Set("Content-Type", apitype.ContentNDJSON)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	var lastStatus []byte // the last status sent, to send it again only when it changed
	send := func(e apitype.Event) bool {
		rc.SetWriteDeadline(time.Now().Add(writeTimeout))
		if err := enc.Encode(e); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	// changedStatus returns the status if it differs from the last one sent.
	changedStatus := func() (*apitype.Status, bool) {
		st, err := s.statusFor(c)
		if err != nil {
			s.opts.Logger.Error("watch: status", "err", err)
			return nil, false
		}
		b, _ := json.Marshal(st)
		if bytes.Equal(b, lastStatus) {
			return nil, false
		}
		lastStatus = b
		return &st, true
	}
	// full sends the whole state.
	full := func() bool {
		lastStatus = nil
		st, ok := changedStatus()
		if !ok {
			return false
		}
		e := apitype.Event{Type: apitype.EventState, Status: st, Records: []apitype.Record{}}
		if err := s.opts.Queue.Each(queue.Filter{States: liveStates}, func(rec *queue.Record) error {
			e.Records = append(e.Records, summary(c, rec))
			return nil
		}); err != nil {
			s.opts.Logger.Error("watch: records", "err", err)
			return false
		}
		return send(e)
	}

	if !full() {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.stopping:
			return
		case <-sub.Ready():
		}
		ev := sub.Take()
		// A link made or removed changes which records are the caller's: send everything.
		prev := c.linkedTo()
		c = s.callerOf(c.Identity)
		if ev.Resync || c.linkedTo() != prev {
			if !full() {
				return
			}
			continue
		}
		for _, id := range ev.Records {
			rec, err := s.opts.Queue.Get(id)
			if err != nil {
				continue // removed or unreadable: nothing to show
			}
			s.filed.note(rec) // before the status below, which reports the time of the last filing
			sm := summary(c, rec)
			if !send(apitype.Event{Type: apitype.EventRecord, Record: &sm}) {
				return
			}
		}
		if st, changed := changedStatus(); changed && !send(apitype.Event{Type: apitype.EventStatus, Status: st}) {
			return
		}
	}
}
