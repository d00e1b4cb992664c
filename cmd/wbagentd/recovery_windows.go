package main

import (
	"fmt"
	"time"

	"golang.org/x/sys/windows/svc/mgr"
)

// restartDelays are the recovery actions: restart after each failure, waiting longer each
// time; the count of failures resets after a day without one.
var restartDelays = []time.Duration{5 * time.Second, 30 * time.Second, 2 * time.Minute}

const recoveryResetSeconds = 24 * 60 * 60

// setRecovery sets the service's recovery actions (restart with back-off), also when it
// stops with an error rather than crashing. The service sets them itself at every start,
// so they hold however it was registered.
func setRecovery(name string) error {
	return withService(name, func(s *mgr.Service) error {
		return recoverWithRestarts(s)
	})
}

// withService runs f with service name opened in the service manager.
func withService(name string, f func(*mgr.Service) error) error {
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("connect to the service manager: %w", err)
	}
	defer m.Disconnect()
	s, err := m.OpenService(name)
	if err != nil {
		return fmt.Errorf("open service %s: %w", name, err)
	}
	defer s.Close()
	return f(s)
}

// recoverWithRestarts sets s's recovery actions to restartDelays.
func recoverWithRestarts(s *mgr.Service) error {
	actions := make([]mgr.RecoveryAction, len(restartDelays))
	for i, d := range restartDelays {
		actions[i] = mgr.RecoveryAction{Type: mgr.ServiceRestart, Delay: d}
	}
	if err := s.SetRecoveryActions(actions, recoveryResetSeconds); err != nil {
		return fmt.Errorf("set recovery actions: %w", err)
	}
	if err := s.SetRecoveryActionsOnNonCrashFailures(true); err != nil {
		return fmt.Errorf("set recovery on failures: %w", err)
	}
	return nil
}
