package main

import (
	"fmt"
	"os"
	"runtime/metrics"

	"github.com/writeback-agent/wbagent/agent/queue"
)

// gcTuned: main set the process's GC target to queue.GCPercent (GOGC was not set).
var gcTuned bool

// gcPercent returns the process's GC target (-1: off), read without changing it.
func gcPercent() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return -1
	}
	return int(s[0].Value.Uint64())
}

// gcDescription says which GC target the run uses and where it came from.
func gcDescription() string {
	if gcTuned {
		return fmt.Sprintf("GOGC=%d (the agent service's setting, agent/queue.GCPercent)", queue.GCPercent)
	}
	if v, ok := os.LookupEnv("GOGC"); ok {
		return fmt.Sprintf("GOGC=%s (from the environment)", v)
	}
	return fmt.Sprintf("GOGC=%d", gcPercent())
}
