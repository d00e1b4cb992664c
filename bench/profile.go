package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"runtime/trace"
)

// startProfile starts, for one store × workload, a CPU profile and an execution trace in
// dir (-profile), and returns the function that stops them. With no dir it does nothing.
//
// The trace is what shows a latency-bound store: how long goroutines wait to run, how long
// the log's syncs hold a thread (go tool trace -pprof=sched|syscall|sync FILE).
func startProfile(dir, name string) (stop func(), err error) {
	if dir == "" {
		return func() {}, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("-profile: %w", err)
	}
	cpu, err := os.Create(filepath.Join(dir, name+".cpu.pprof"))
	if err != nil {
		return nil, fmt.Errorf("-profile: %w", err)
	}
	tr, err := os.Create(filepath.Join(dir, name+".trace"))
	if err != nil {
		cpu.Close()
		return nil, fmt.Errorf("-profile: %w", err)
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		cpu.Close()
		tr.Close()
		return nil, fmt.Errorf("-profile: %w", err)
	}
	if err := trace.Start(tr); err != nil {
		pprof.StopCPUProfile()
		cpu.Close()
		tr.Close()
		return nil, fmt.Errorf("-profile: %w", err)
	}
	return func() {
		trace.Stop()
		pprof.StopCPUProfile()
		cpu.Close()
		tr.Close()
	}, nil
}
