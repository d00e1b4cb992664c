package tray

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/writeback-agent/wbagent/agent/client"
	"github.com/writeback-agent/wbagent/agent/link/signin"
	"github.com/writeback-agent/wbagent/agent/localapi/apitype"
)

// UIProgram is the windows' program name (without .exe).
const UIProgram = "wbagent-ui"

// FindUI returns the path of wbagent-ui: beside the running executable if it is there (as
// the installer puts it), else on PATH.
func FindUI() (string, error) {
	name := UIProgram
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	p, err := exec.LookPath(UIProgram)
	if err != nil {
		return "", fmt.Errorf("tray: find %s (beside the tray or on PATH): %w", UIProgram, err)
	}
	return p, nil
}

// OpenWindow starts `wbagent-ui w` as a separate process and does not wait for it (a
// second start brings the open window forward: that is wbagent-ui's job). The process is
// reaped when it exits.
func OpenWindow(w Window, env []string) error {
	path, err := FindUI()
	if err != nil {
		return err
	}
	cmd := exec.Command(path, string(w))
	cmd.Env = env
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("tray: open the %s window: %w", w, err)
	}
	go cmd.Wait()
	return nil
}

// requestTimeout bounds each request to the service made while linking (the service checks
// the sign-in with the clinical system before it answers).
const requestTimeout = 30 * time.Second

// SignInTimeout bounds how long Link waits for the user to sign in in the browser.
const SignInTimeout = 5 * time.Minute

// Link signs the user in to the clinical system in their browser (PKCE, in this process,
// exactly as `wbagent link` does, through package signin) and hands the sign-in to the
// service, which verifies and stores it. open shows the sign-in page.
func Link(ctx context.Context, c *client.Client, open func(url string) error) (*apitype.LinkState, error) {
	reqCtx, cancel := context.WithTimeout(ctx, requestTimeout)
	st, err := c.LinkState(reqCtx)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("tray: link: %w", err)
	}
	signCtx, cancel := context.WithTimeout(ctx, SignInTimeout)
	res, err := signin.Browser(signCtx, &http.Client{Timeout: 30 * time.Second}, st.Settings, open)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("tray: link: %w", err)
	}
	reqCtx, cancel = context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	linked, err := c.Link(reqCtx, res.LinkRequest())
	if err != nil {
		return nil, fmt.Errorf("tray: link: %w", err)
	}
	return linked, nil
}
