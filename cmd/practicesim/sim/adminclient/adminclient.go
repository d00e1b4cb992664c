// Package adminclient is a Go client of the practice simulator's admin API (package admin,
// documented in docs/practicesim.md): it reads and changes the EMAS Manager settings,
// injects faults and lists the fixtures and the filed consultations. It sends and decodes
// the server's own types (admin.Info, admin.User, admin.Patient, emas.Change,
// faults.Settings, records.Consultation), so the two cannot drift apart.
//
//	c := adminclient.New(base, nil) // base as sim.Simulator.Start returns it
//	_, err := c.UpdateUser(ctx, adminclient.UserID(gp.UserInRoleID), emas.Change{AllowLogin: new(false)})
//	filed, err := c.Consultations(ctx)
//
// An answer other than 200 is an *Error carrying the status and the server's message.
package adminclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/admin"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/emas"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/faults"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/records"
)

// Client calls one simulator's admin API. It is safe for concurrent use.
type Client struct {
	base string
	hc   *http.Client
}

// New returns a client of the simulator serving at baseURL (its base URL, without /admin);
// hc nil means http.DefaultClient.
func New(baseURL string, hc *http.Client) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{base: baseURL, hc: hc}
}

// Error is an admin API answer other than 200.
type Error struct {
	Method, Path string
	Status       int
	Message      string // the server's {"error": …}, or the body if it was not one
}

func (e *Error) Error() string {
	return fmt.Sprintf("adminclient: %s %s: %d %s", e.Method, e.Path, e.Status, e.Message)
}

// StatusCode returns the HTTP status an admin call answered with: 200 for a nil error, the
// status of an *Error, and 0 when the call got no answer.
func StatusCode(err error) int {
	var e *Error
	switch {
	case err == nil:
		return http.StatusOK
	case errors.As(err, &e):
		return e.Status
	}
	return 0
}

// UserID is the {userId} of a member of staff's admin routes: their user-in-role ID. (A
// username works too.)
func UserID(userInRoleID int32) string { return strconv.Itoa(int(userInRoleID)) }

// Info returns GET /admin/info: the application ID, clients, scopes and practice.
func (c *Client) Info(ctx context.Context) (admin.Info, error) {
	var out admin.Info
	return out, c.Do(ctx, http.MethodGet, "/admin/info", nil, &out)
}

// ApplicationActive reports whether the application is activated in EMAS Manager.
func (c *Client) ApplicationActive(ctx context.Context) (bool, error) {
	return c.application(ctx, http.MethodGet, nil)
}

// SetApplicationActive activates or deactivates the application and returns the new state.
func (c *Client) SetApplicationActive(ctx context.Context, active bool) (bool, error) {
	return c.application(ctx, http.MethodPost, &admin.Application{Active: &active})
}

func (c *Client) application(ctx context.Context, method string, in *admin.Application) (bool, error) {
	var out admin.Application
	if err := c.Do(ctx, method, "/admin/application", in, &out); err != nil {
		return false, err
	}
	if out.Active == nil {
		return false, fmt.Errorf("adminclient: %s /admin/application: the answer has no \"active\"", method)
	}
	return *out.Active, nil
}

// Users lists the staff with their access settings.
func (c *Client) Users(ctx context.Context) ([]admin.User, error) {
	var out []admin.User
	return out, c.Do(ctx, http.MethodGet, "/admin/users", nil, &out)
}

// User returns one member of staff; id is their user-in-role ID (see UserID) or username.
func (c *Client) User(ctx context.Context, id string) (admin.User, error) {
	var out admin.User
	return out, c.Do(ctx, http.MethodGet, "/admin/users/"+url.PathEscape(id), nil, &out)
}

// UpdateUser changes a member of staff's access settings (nil fields are kept) and returns
// them as changed; id is their user-in-role ID (see UserID) or username.
func (c *Client) UpdateUser(ctx context.Context, id string, change emas.Change) (admin.User, error) {
	var out admin.User
	return out, c.Do(ctx, http.MethodPost, "/admin/users/"+url.PathEscape(id), change, &out)
}

// Patients lists the patient fixtures.
func (c *Client) Patients(ctx context.Context) ([]admin.Patient, error) {
	var out []admin.Patient
	return out, c.Do(ctx, http.MethodGet, "/admin/patients", nil, &out)
}

// Consultations lists every filed consultation in filing order, attachment content included.
func (c *Client) Consultations(ctx context.Context) ([]records.Consultation, error) {
	var out []records.Consultation
	return out, c.Do(ctx, http.MethodGet, "/admin/consultations", nil, &out)
}

// Faults returns the fault settings.
func (c *Client) Faults(ctx context.Context) (faults.Settings, error) {
	var out faults.Settings
	return out, c.Do(ctx, http.MethodGet, "/admin/faults", nil, &out)
}

// SetFaults replaces the fault settings (the zero value injects nothing) and returns them.
func (c *Client) SetFaults(ctx context.Context, s faults.Settings) (faults.Settings, error) {
	var out faults.Settings
	return out, c.Do(ctx, http.MethodPost, "/admin/faults", s, &out)
}

// Do makes any admin call: path is from the base URL ("/admin/…"), in (if not nil) is sent
// as JSON and a 200 answer is decoded into out (if not nil). The typed methods use it; call
// it for what they do not offer, such as a body the server must refuse.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("adminclient: %s %s: encode: %w", method, path, err)
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("adminclient: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("adminclient: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		e := &Error{Method: method, Path: path, Status: resp.StatusCode, Message: string(bytes.TrimSpace(data))}
		var answer admin.ErrorResponse
		if json.Unmarshal(data, &answer) == nil && answer.Error != "" {
			e.Message = answer.Error
		}
		return e
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("adminclient: %s %s: decode: %w", method, path, err)
	}
	return nil
}
