package main

import (
	"fmt"
	"os"
	"runtime/debug"
)

// gcTuned: main set the process's GC target to queue.GCPercent (GOGC was not set).
var gcTuned bool

// gcPercent returns the process's GC target (-1: off).
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// gcDescription says which GC target the run uses and where it came from.
func gcDescription() string {
	if gcTuned {
		return fmt.Sprintf("GOGC=%d (the agent service's setting, agent/queue.GCPercent)", gcPercent())
	}
	if v, ok := os.LookupEnv("GOGC"); ok {
		return fmt.Sprintf("GOGC=%s (from the environment)", v)
	}
	return fmt.Sprintf("GOGC=%d", gcPercent())
}
