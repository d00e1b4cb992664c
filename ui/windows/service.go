package windows

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/writeback-agent/wbagent/agent/client"
	"github.com/writeback-agent/wbagent/agent/localapi/apitype"
	"github.com/writeback-agent/wbagent/agent/queue"
)

// Service is the part of the service's local API (package client) the windows use. Tests
// give the windows a fake.
type Service interface {
	Status(ctx context.Context) (*apitype.Status, error)
	Queue(ctx context.Context, states ...queue.State) ([]apitype.Record, error)
	// Review returns a record with its content (the caller's only) and, while it waits for
	// confirmation, the clinical system's patient for it.
	Review(ctx context.Context, id uint64) (*apitype.RecordDetail, error)
	Record(ctx context.Context, id uint64) (*apitype.RecordDetail, error)
	Attachment(ctx context.Context, id uint64, index int) ([]byte, error)
	Confirm(ctx context.Context, id uint64, pfsVisible bool, version uint64) (*apitype.Record, error)
	Reject(ctx context.Context, id uint64, reason string) (*apitype.Record, error)
	Retry(ctx context.Context, id uint64) (*apitype.Record, error)
	Cancel(ctx context.Context, id uint64, reason string) (*apitype.Record, error)
	Probe(ctx context.Context) (*apitype.ProbeResult, error)
	LinkState(ctx context.Context) (*apitype.LinkState, error)
	Link(ctx context.Context, req apitype.LinkRequest) (*apitype.LinkState, error)
	Unlink(ctx context.Context, osUserID string) (*apitype.LinkState, error)
	// Diag writes the diagnostics bundle (administrators).
	Diag(ctx context.Context, w io.Writer) error
	// Watch opens the watch stream; its first event carries the whole state.
	Watch(ctx context.Context) (Events, error)
}

// Events is an open watch stream (client.Watcher).
type Events interface {
	Next() (apitype.Event, error)
	Close() error
}

// FromClient adapts a local API client to Service.
func FromClient(c *client.Client) Service { return clientService{c} }

type clientService struct{ *client.Client }

func (c clientService) Watch(ctx context.Context) (Events, error) { return c.Client.Watch(ctx) }

// requestTimeout bounds one request a window makes (the probe has its own bound).
const requestTimeout = 30 * time.Second

// probeTimeout bounds Check again: the service bounds the probe itself.
const probeTimeout = 2 * time.Minute

// errText is an error as people read it: the service's own words for its refusals, a plain
// sentence when it is not running, never JSON.
func errText(err error) string {
	var ae *client.APIError
	var nr *client.NotRunningError
	switch {
	case errors.As(err, &ae):
		return ae.Error()
	case errors.As(err, &nr):
		return "The Writeback Agent service is not running. It will be used again as soon as it starts."
	case errors.Is(err, context.DeadlineExceeded):
		return "The service took too long to answer. Try again."
	}
	return err.Error()
}

// isNotRunning reports whether err says the service cannot be reached.
func isNotRunning(err error) bool {
	var nr *client.NotRunningError
	return errors.As(err, &nr)
}
