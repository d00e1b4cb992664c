package main

import (
	"context"

	agentfiling "github.com/writeback-agent/wbagent/agent/filing"
	"github.com/writeback-agent/wbagent/agent/service"
	"github.com/writeback-agent/wbagent/agent/watch"
)

// filing is the service component that checks and files writebacks (package filing).
type filing struct {
	// watch configures the watcher beyond what the service gives (tests shorten its
	// intervals).
	watch watch.Config
}

func (filing) Name() string { return agentfiling.Component{}.Name() }

func (f filing) Run(ctx context.Context, env service.Env) error {
	return agentfiling.Component{Watch: f.watch}.Run(ctx, env)
}
