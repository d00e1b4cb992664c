//go:build !windows

package main

import (
	"fmt"

	kservice "github.com/kardianos/service"

	"github.com/writeback-agent/wbagent/agent/service"
)

// program adapts the service to the service manager.
type program struct {
	loc      location
	svc      *service.Service
	closeLog func() error
}

// Start starts the service before the manager is told it is running; a failure (such as
// a configuration problem) is written to the system log and makes the start fail.
func (p *program) Start(s kservice.Service) error {
	sys, err := s.SystemLogger(nil)
	if err != nil {
		return fmt.Errorf("open the system log: %w", err)
	}
	if err := setRecovery(serviceName); err != nil {
		sys.Warning("wbagentd: could not set the service's recovery actions: ", err)
	}
	svc, closeLog, err := start(p.loc, sys, nil)
	if err != nil {
		sys.Error("wbagentd: not started: ", err)
		return err
	}
	p.svc, p.closeLog = svc, closeLog
	return nil
}

// Stop stops the service within a few seconds.
func (p *program) Stop(kservice.Service) error {
	if p.svc == nil {
		return nil
	}
	err := p.svc.Stop()
	p.closeLog()
	return err
}

// underManager runs the service under the operating system's service manager.
func underManager(loc location) error {
	s, err := kservice.New(&program{loc: loc}, managerConfig(loc))
	if err != nil {
		return fmt.Errorf("service manager: %w", err)
	}
	return s.Run()
}
