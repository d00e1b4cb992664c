package main

// Extension point for measurements other than throughput.
//
// Two are reserved for ours and are to be written by the lead (they are NOT implemented
// here); register them from ours.go with withMeasurement:
//
//   - "memory": a child process (see registerChild / childCommand) opens a queue holding
//     10,000 records, scans it (as the agent does at start-up), then idles; the parent reads
//     the child's /proc/<pid>/status (readProcStatusKB) and reports RssAnon and RssFile in
//     kB. RssFile is the mmap'd bbolt file the kernel can drop; RssAnon is the heap the
//     queue really costs. Suggested keys: "rss_anon_kb", "rss_file_kb".
//   - "idle_cpu": the same child idles for a few seconds with the queue open; the parent
//     reads utime+stime from /proc/<pid>/stat before and after. Suggested key:
//     "idle_cpu_pct" (percent of one core).
//
// Each Measurement returns named numbers; they are printed under "extra measurements" and,
// for ours (or its stand-in), added as top-level keys of the final JSON line.

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// Measurement is one extra measurement of a store.
type Measurement struct {
	Name string
	Run  func(ctx context.Context, env MeasureEnv) (map[string]float64, error)
}

// MeasureEnv is what a Measurement gets from the harness.
type MeasureEnv struct {
	Dir     string                                // fresh empty directory for this measurement
	Factory Factory                               // the store's factory
	Next    func() (jobID string, payload []byte) // the benchmark payload generator
	Quick   bool                                  // -quick: keep it short
	Logf    func(format string, args ...any)      // progress, to stderr
	// ChildCommand is childCommand: this binary re-executed in a registered child mode.
	ChildCommand func(ctx context.Context, mode string, args ...string) (*exec.Cmd, error)
}

// childArg is the first argument with which the bench binary re-executes itself as a
// child process: `bench <childArg> <mode> args...`.
const childArg = "__bench_child"

var childModes = map[string]func(args []string) error{}

// registerChild registers a child-process mode, e.g. "hold-queue": open a queue in
// args[0], scan it, print "ready" on stdout, then block until stdin closes. Call it from
// an init function.
func registerChild(mode string, fn func(args []string) error) {
	if _, dup := childModes[mode]; dup {
		panic("bench: child mode registered twice: " + mode)
	}
	childModes[mode] = fn
}

// runChildIfRequested runs a child mode and exits when os.Args asks for one. main calls it
// before parsing flags.
func runChildIfRequested() {
	if len(os.Args) < 3 || os.Args[1] != childArg {
		return
	}
	fn := childModes[os.Args[2]]
	if fn == nil {
		fmt.Fprintf(os.Stderr, "bench child: unknown mode %q\n", os.Args[2])
		os.Exit(2)
	}
	if err := fn(os.Args[3:]); err != nil {
		fmt.Fprintf(os.Stderr, "bench child %s: %v\n", os.Args[2], err)
		os.Exit(1)
	}
	os.Exit(0)
}

// childCommand returns, unstarted, a command that runs this binary again in the given
// child mode (its Stderr goes to ours). The caller sets up pipes (StdinPipe, StdoutPipe),
// calls Start, reads /proc/<cmd.Process.Pid>/..., and ends it by closing stdin and Wait.
func childCommand(ctx context.Context, mode string, args ...string) (*exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, self, append([]string{childArg, mode}, args...)...)
	cmd.Stderr = os.Stderr
	return cmd, nil
}

// readProcStatusKB returns the "kB" fields of /proc/<pid>/status (VmRSS, RssAnon,
// RssFile, RssShmem, VmHWM, ...), in kB. Linux only.
func readProcStatusKB(pid int) (map[string]int64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseProcStatusKB(bufio.NewScanner(f))
}

func parseProcStatusKB(sc *bufio.Scanner) (map[string]int64, error) {
	out := map[string]int64{}
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) != 2 || fields[1] != "kB" {
			continue
		}
		n, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			continue
		}
		out[k] = n
	}
	return out, sc.Err()
}
