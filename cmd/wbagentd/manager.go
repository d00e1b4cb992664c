package main

import (
	"fmt"

	kservice "github.com/kardianos/service"
)

// Service registration. The installer registers the same name on Windows.
const (
	serviceName        = "WritebackAgent"
	serviceDisplayName = "Writeback Agent"
	serviceDescription = "Files online consultation outcomes into the clinical system."
)

// managerConfig describes the service to the service manager: it runs "wbagentd service"
// with the same --data and --config it was installed with, as LocalSystem on Windows and
// as a LaunchDaemon (root) on macOS.
func managerConfig(loc location) *kservice.Config {
	return &kservice.Config{
		Name:        serviceName,
		DisplayName: serviceDisplayName,
		Description: serviceDescription,
		Arguments:   append([]string{"service"}, loc.explicit...),
		Option: kservice.KeyValue{
			"RunAtLoad": true, // macOS: start at boot
			"KeepAlive": true, // macOS: restart if it exits
		},
	}
}

// control installs, uninstalls, starts or stops the service (for developers: in production
// the installer registers it).
func control(action string, loc location) error {
	s, err := kservice.New(controlOnly{}, managerConfig(loc))
	if err != nil {
		return fmt.Errorf("service manager: %w", err)
	}
	return kservice.Control(s, action)
}

// controlOnly is the program given to kservice to install, uninstall, start or stop the
// service: those never run it.
type controlOnly struct{}

func (controlOnly) Start(kservice.Service) error { return nil }
func (controlOnly) Stop(kservice.Service) error  { return nil }
