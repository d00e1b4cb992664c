package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sys/windows/registry"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/eventlog"
	"golang.org/x/sys/windows/svc/mgr"

	"github.com/writeback-agent/wbagent/agent/config"
	"github.com/writeback-agent/wbagent/agent/logging"
	"github.com/writeback-agent/wbagent/agent/service"
)

// Service-specific exit codes the service manager records (sc query shows them).
const (
	exitCodeNotStarted = 1 // the configuration or data folder is wrong: the Event Log says what
	exitCodeStopFailed = 2 // the service did not stop cleanly
)

// startWait and stopWait are the hints given to the service manager while starting and
// stopping: the queue opens in well under a second, a stop drains within its grace.
const (
	startWait = 30 * time.Second
	stopWait  = 20 * time.Second
)

// underManager runs the service under the Service Control Manager. `wbagentd service` is
// only ever started by the SCM (that is what the installer registers), so it connects to
// it directly rather than asking svc.IsWindowsService, which is false under Wine.
func underManager(loc location) error {
	if err := svc.Run(serviceName, &winService{loc: loc}); err != nil {
		return fmt.Errorf("run under the service manager (start it with sc start %s): %w", serviceName, err)
	}
	return nil
}

type winService struct{ loc location }

// Execute starts the service, reports it running, and stops it when the SCM asks. Before
// starting it moves what the installer left in the registry into the data folder
// (applyInstallSettings), and sets the service's recovery actions and delayed start.
func (w *winService) Execute(_ []string, req <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	status <- svc.Status{State: svc.StartPending, WaitHint: uint32(startWait / time.Millisecond)}
	sys := openSystemLog()
	defer sys.close()
	if err := setRecovery(serviceName); err != nil {
		sys.Warning("wbagentd: could not set the service's recovery actions: ", err)
	}
	if err := setDelayedStart(serviceName); err != nil {
		sys.Warning("wbagentd: could not set the service's delayed start: ", err)
	}
	s, closeLog, err := w.start(sys)
	if err != nil {
		var ce *config.Error
		if errors.As(err, &ce) {
			lines := make([]string, len(ce.Problems))
			for i, p := range ce.Problems {
				lines[i] = "  - " + describeProblem(p)
			}
			sys.Error(fmt.Sprintf("wbagentd: not started: the configuration has %d problem(s):\n%s\nFix them (reinstall with the right MSI property, or edit %s), then start the service.",
				len(ce.Problems), strings.Join(lines, "\n"), w.loc.configFile))
		} else {
			sys.Error("wbagentd: not started: ", err)
		}
		return true, exitCodeNotStarted
	}
	status <- svc.Status{State: svc.Running, Accepts: svc.AcceptStop | svc.AcceptShutdown}
	for c := range req {
		switch c.Cmd {
		case svc.Interrogate:
			status <- c.CurrentStatus
		case svc.Stop, svc.Shutdown:
			status <- svc.Status{State: svc.StopPending, WaitHint: uint32(stopWait / time.Millisecond)}
			err := s.Stop()
			closeLog()
			if err != nil {
				sys.Error("wbagentd: stopped with an error: ", err)
				return true, exitCodeStopFailed
			}
			return false, 0
		}
	}
	return false, 0
}

// start applies the values given at install, then starts the service.
func (w *winService) start(sys systemLog) (*service.Service, func() error, error) {
	if err := importInstallSettings(w.loc, sys); err != nil {
		return nil, nil, err
	}
	return start(w.loc, sys, nil)
}

// importInstallSettings applies the MSI properties the installer wrote under HKLM
// (installKey, secretKey) to the data folder, then deletes the secret ones from the
// registry: after the first start, the enrolment code exists only sealed in the data
// folder and the application id only in the data folder, which only SYSTEM and
// Administrators may read.
func importInstallSettings(loc location, sys logging.SystemLogger) error {
	props := map[string]string{}
	for _, p := range installProperties {
		keyPath := installKey
		if p.Secret {
			keyPath = secretKey
		}
		v, err := readRegistryString(keyPath, p.Value)
		if err != nil {
			return fmt.Errorf("read HKLM\\%s\\%s: %w", keyPath, p.Value, err)
		}
		props[p.Property] = v
	}
	applied, err := applyInstallSettings(loc.dataDir, loc.configFile, props)
	if err != nil {
		return err
	}
	if err := clearSecrets(); err != nil {
		sys.Warning("wbagentd: could not delete the install-time secrets from HKLM\\", secretKey, ": ", err)
	}
	if len(applied) > 0 {
		sys.Info(fmt.Sprintf("wbagentd: stored the values given at install (%s) in %s", strings.Join(applied, ", "), loc.dataDir))
	}
	return nil
}

// readRegistryString reads a string value under HKLM (64-bit view); a missing key or value
// reads as "".
func readRegistryString(keyPath, name string) (string, error) {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, keyPath, registry.QUERY_VALUE|registry.WOW64_64KEY)
	if errors.Is(err, registry.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer k.Close()
	v, _, err := k.GetStringValue(name)
	if errors.Is(err, registry.ErrNotExist) {
		return "", nil
	}
	return v, err
}

// clearSecrets deletes the secret install values (their contents are in the data folder now).
func clearSecrets() error {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, secretKey, registry.SET_VALUE|registry.WOW64_64KEY)
	if errors.Is(err, registry.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer k.Close()
	for _, p := range installProperties {
		if !p.Secret {
			continue
		}
		if err := k.DeleteValue(p.Value); err != nil && !errors.Is(err, registry.ErrNotExist) {
			return fmt.Errorf("delete %s: %w", p.Value, err)
		}
	}
	return nil
}

// setDelayedStart makes the automatic start delayed (after the services Windows needs to
// sign users in), which wixl's ServiceInstall cannot express.
func setDelayedStart(name string) error {
	return withService(name, func(s *mgr.Service) error {
		c, err := s.Config()
		if err != nil {
			return fmt.Errorf("read the service's configuration: %w", err)
		}
		if c.StartType != mgr.StartAutomatic || c.DelayedAutoStart {
			return nil
		}
		c.DelayedAutoStart = true
		return s.UpdateConfig(c)
	})
}

// systemLog writes to the Windows Event Log (Application, source serviceName, registered
// by the installer); if it cannot be opened, nowhere.
type systemLog struct{ l *eventlog.Log }

// Event ids: one per level, so that monitoring can filter on them (docs/deploying.md).
const (
	eventInfo    = 1
	eventWarning = 2
	eventError   = 3
)

func openSystemLog() systemLog {
	l, err := eventlog.Open(serviceName)
	if err != nil {
		return systemLog{}
	}
	return systemLog{l: l}
}

func (s systemLog) Info(v ...any) error    { return s.write(eventInfo, v) }
func (s systemLog) Warning(v ...any) error { return s.write(eventWarning, v) }
func (s systemLog) Error(v ...any) error   { return s.write(eventError, v) }

func (s systemLog) write(id uint32, v []any) error {
	if s.l == nil {
		return nil
	}
	msg := fmt.Sprint(v...)
	switch id {
	case eventError:
		return s.l.Error(id, msg)
	case eventWarning:
		return s.l.Warning(id, msg)
	}
	return s.l.Info(id, msg)
}

func (s systemLog) close() {
	if s.l != nil {
		s.l.Close()
	}
}

// stopServiceForRemoval stops the service, if it is registered and running, and waits (up to
// 30 s) until it has stopped, so that remove-data finds its files closed.
func stopServiceForRemoval() error {
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("connect to the service manager: %w", err)
	}
	defer m.Disconnect()
	s, err := m.OpenService(serviceName)
	if err != nil {
		return nil // not registered: nothing runs
	}
	defer s.Close()
	st, err := s.Query()
	if err != nil {
		return fmt.Errorf("query service %s: %w", serviceName, err)
	}
	if st.State != svc.Stopped && st.State != svc.StopPending {
		if st, err = s.Control(svc.Stop); err != nil {
			return fmt.Errorf("stop service %s: %w", serviceName, err)
		}
	}
	for deadline := time.Now().Add(30 * time.Second); st.State != svc.Stopped; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			return fmt.Errorf("service %s did not stop within 30 s: stop it, then run wbagentd remove-data again", serviceName)
		}
		if st, err = s.Query(); err != nil {
			return fmt.Errorf("query service %s: %w", serviceName, err)
		}
	}
	return nil
}
