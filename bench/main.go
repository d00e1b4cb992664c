// Command bench measures durable-queue throughput on one disk: the raw fsync rate, then,
// for the product's queue ("ours", registered by ours.go) and for peer libraries, the
// durable enqueue rate with 1 and with 64 producers, the enqueue→claim→done cycle rate,
// and (for ours) enqueue_1 again after a large backlog was queued and drained. Every rate
// is also given as a multiple of the fsync rate, which is what makes numbers from
// different disks comparable. See README.md.
//
// It is its own module so that the peer libraries never enter the product's go.mod.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/writeback-agent/wbagent/agent/queue"
)

type options struct {
	quick      bool
	dir        string
	duration   time.Duration
	warmup     time.Duration
	only       string
	backlog    int
	producers  int
	strict     bool
	fsyncMode  string
	payload    string
	payloadLen int
	keep       bool
	backlogSet bool   // -backlog given explicitly
	workloads  string // -workloads: comma-separated workload names; default all
	rounds     int    // -rounds: times each store's short workloads run, interleaved
	profile    string // -profile: a folder for a CPU profile and an execution trace per store and workload
}

// In -quick, the stand-in's backlog is smaller, and queuing any backlog stops after
// quickFillCap, so that a slow store (or a loaded machine) cannot blow the 45 s budget.
const (
	quickStandInBacklog = 2_000
	quickFillCap        = 5 * time.Second
)

func main() {
	// The process runs with the agent service's GC target (queue.GCPercent), for every
	// store: the setting is the process's, so every store is measured under it. GOGC, if
	// set, wins. Before the memory child branches off, so that it measures as the service
	// runs.
	gcTuned = queue.TuneGC()
	runChildIfRequested()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&o.quick, "quick", os.Getenv("QUICK") == "1", "short run (also QUICK=1): ~1 s per workload, smaller backlog; whole run < 45 s")
	fs.StringVar(&o.dir, "dir", os.TempDir(), "directory on the disk to measure; a temporary directory is made (and removed) inside it")
	fs.DurationVar(&o.duration, "duration", 3*time.Second, "measured time per workload (-quick: 1s unless set)")
	fs.StringVar(&o.only, "only", "", "comma-separated store names (or groups) to run; default all")
	fs.IntVar(&o.backlog, "backlog", 100_000, "records queued and drained before enqueue_1_backlog (-quick: 20000 unless set)")
	fs.IntVar(&o.producers, "producers", 64, "concurrent producers for enqueue_64 and cycle")
	fs.BoolVar(&o.strict, "strict", false, "exit 3 when a target of ours fails (or ours is not registered)")
	fs.StringVar(&o.fsyncMode, "fsync-mode", "append-fdatasync", "reference fsync loop: "+strings.Join(fsyncModes, ", "))
	fs.StringVar(&o.payload, "payload", filepath.Join("..", "docs", "examples", "writeback.json"), "example writeback document used as the payload if it exists (jobId replaced per item)")
	fs.IntVar(&o.payloadLen, "payload-size", 2048, "size of the generated payload when the example document does not exist")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds of every store's enqueue_1, enqueue_64 and cycle, interleaved; a rate is the median of its rounds (-quick: 1 unless set)")
	fs.StringVar(&o.workloads, "workloads", "", "comma-separated workloads to run ("+strings.Join(allWorkloads, ", ")+"); default all, and the extra measurements")
	fs.StringVar(&o.profile, "profile", "", "folder to write a CPU profile and an execution trace of each store × workload into (<store>-<workload>.cpu.pprof, .trace); tracing slows the stores: rates measured with it are not comparable")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	o.backlogSet = set["backlog"]
	if o.quick {
		if !set["duration"] {
			o.duration = time.Second
		}
		if !set["backlog"] {
			o.backlog = 20_000
		}
		if !set["rounds"] {
			o.rounds = 1
		}
	}
	o.warmup = min(max(o.duration/10, 100*time.Millisecond), 500*time.Millisecond)
	if o.producers < 1 || o.backlog < 1 || o.duration <= 0 || o.rounds < 1 {
		return o, fmt.Errorf("-producers, -backlog, -duration and -rounds must be positive")
	}
	for _, w := range splitList(o.workloads) {
		if !slices.Contains(allWorkloads, w) {
			return o, fmt.Errorf("-workloads: unknown workload %q (want %s)", w, strings.Join(allWorkloads, ", "))
		}
	}
	if !validFsyncMode(o.fsyncMode) {
		return o, fmt.Errorf("-fsync-mode %q: want one of %s", o.fsyncMode, strings.Join(fsyncModes, ", "))
	}
	return o, nil
}

// Exit statuses.
const (
	exitOK      = 0
	exitError   = 1 // a store or workload failed, or bad flags
	exitUsage   = 2
	exitTargets = 3 // -strict and a target failed
)

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if err == flag.ErrHelp {
			return exitOK
		}
		fmt.Fprintln(stderr, "bench:", err)
		return exitUsage
	}
	entries, err := selectEntries(o.only)
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return exitUsage
	}
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) }

	root, err := os.MkdirTemp(o.dir, "wbbench-")
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return exitError
	}
	if !o.keep {
		defer os.RemoveAll(root)
	}
	gen, err := newPayloadGen(o.payload, o.payloadLen)
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return exitError
	}
	oursEntry, standIn := ours()
	failed := false
	load0 := loadAvg()
	// In -quick, the stand-in (one fsync'd transaction per op, ~fsync rate) would spend
	// most of the 45 s budget building the backlog: give it a small one.
	standInBacklog := o.backlog
	if o.quick && standIn && !o.backlogSet {
		standInBacklog = min(o.backlog, quickStandInBacklog)
	}

	mode := "full"
	if o.quick {
		mode = "QUICK"
	}
	fmt.Fprintf(stdout, "wbagent queue benchmark (%s mode), %s, %s/%s, %d CPUs, GOMAXPROCS=%d\n",
		mode, runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0))
	fmt.Fprintf(stdout, "GC: %s, for every store\n", gcDescription())
	fmt.Fprintf(stdout, "dir: %s\n", describeDir(root))
	fmt.Fprintf(stdout, "payload: %d bytes, %s, unique jobId per item\n", gen.Size(), gen.source)
	fmt.Fprintf(stdout, "per workload: %v warm-up + %v measured, fresh directory and store; producers=%d\n",
		o.warmup, o.duration, o.producers)
	backlogNote := ""
	if o.quick && !o.backlogSet {
		backlogNote = " (QUICK: reduced from 100,000)"
	}
	if o.quick {
		backlogNote += fmt.Sprintf("; QUICK stops queuing after %v", quickFillCap)
	}
	if standInBacklog != o.backlog {
		backlogNote += fmt.Sprintf("; the stand-in %s gets only %s in QUICK mode", oursEntry.name, fmtRate(float64(standInBacklog)))
	}
	fmt.Fprintf(stdout, "backlog for %s: %s records queued by %d producers, then drained (claim+done)%s\n",
		wlBacklog, fmtRate(float64(o.backlog)), o.producers, backlogNote)

	// Reference: fsync rate, measured at the start and again at the end.
	logf("measuring fsync rate (%s)...", o.fsyncMode)
	fsync1, err := measureFsync(root, o.fsyncMode, o.warmup, o.duration)
	if err != nil {
		fmt.Fprintln(stderr, "bench: fsync:", err)
		return exitError
	}
	logf("  fsync_per_s (start): %s", fmtRate(fsync1))

	var fillCap time.Duration
	if o.quick {
		fillCap = quickFillCap
	}
	cfg := workloadCfg{
		producers: o.producers,
		duration:  o.duration,
		warmup:    o.warmup,
		backlog:   o.backlog,
		fillCap:   fillCap,
		gen:       gen,
		claimWait: 10 * time.Second,
		logf:      logf,
	}
	fsyncSamples := []float64{fsync1}
	sample := max(o.duration/4, 200*time.Millisecond)
	rows := make([]*row, len(entries))
	samples := make([]map[string][]float64, len(entries)) // per store: workload -> rate of each round
	for i, e := range entries {
		rows[i] = &row{name: e.name, note: e.note, group: e.group, baseline: e.baseline,
			ours: e.name == oursName, standIn: standIn && e == oursEntry,
			notDurable: e.notDurable, rates: map[string]float64{}, errs: map[string]string{},
			extra: map[string]float64{}}
		samples[i] = map[string][]float64{}
	}
	// Each round runs every store's short workloads, starting one store later than the round
	// before, so that a slow spell of the disk falls on every store alike; a store's rate is
	// the median of its rounds. The backlog and the extra measurements run in the first.
	for round := range o.rounds {
		for k := range entries {
			i := (k + round) % len(entries)
			e, r := entries[i], rows[i]
			// A short fsync sample before each store: the disk's rate drifts (other load on
			// the machine); fsync_per_s is the median of all samples.
			if f, err := measureFsync(root, o.fsyncMode, 0, sample); err == nil {
				fsyncSamples = append(fsyncSamples, f)
			}
			wls := []string{wlEnqueue1, wlEnqueueN, wlCycle}
			if round == 0 && (e.backlog || r.standIn) {
				wls = append(wls, wlBacklog)
			}
			if want := splitList(o.workloads); len(want) > 0 {
				wls = slices.DeleteFunc(wls, func(w string) bool { return !slices.Contains(want, w) })
			}
			for _, wl := range wls {
				if _, failedBefore := r.errs[wl]; failedBefore {
					continue
				}
				dir := filepath.Join(root, e.name+"-"+wl)
				if err := os.Mkdir(dir, 0o700); err != nil {
					fmt.Fprintln(stderr, "bench:", err)
					return exitError
				}
				name := e.name + " " + wl
				if o.rounds > 1 {
					name += fmt.Sprintf(" (round %d of %d)", round+1, o.rounds)
				}
				logf("%s...", name)
				budget := 2*(o.warmup+o.duration) + 10*time.Minute
				ctx, cancel := context.WithTimeout(context.Background(), budget)
				wcfg := cfg
				if r.standIn {
					wcfg.backlog = standInBacklog
				}
				stopProfile, err := startProfile(o.profile, fmt.Sprintf("%s-%s-r%d", e.name, wl, round+1))
				if err != nil {
					cancel()
					fmt.Fprintln(stderr, "bench:", err)
					return exitError
				}
				rt, desc, info, err := runWorkload(ctx, e.factory, dir, wl, wcfg)
				stopProfile()
				cancel()
				if desc != "" {
					r.desc = desc
				}
				if info != "" {
					r.infos = append(r.infos, info)
				}
				if err != nil {
					failed = true
					r.errs[wl] = err.Error()
					delete(samples[i], wl)
					logf("  ERROR %s: %v", name, err)
				} else {
					samples[i][wl] = append(samples[i][wl], rt.perSec())
					logf("  %s/s (%d ops in %v)", fmtRate(rt.perSec()), rt.ops, rt.elapsed.Round(time.Millisecond))
				}
				if !o.keep {
					os.RemoveAll(dir)
				}
			}
			if round > 0 || o.workloads != "" {
				continue // the extra measurements: once, and not when only some workloads run
			}
			for _, m := range e.measurements {
				dir := filepath.Join(root, e.name+"-"+m.Name)
				if err := os.Mkdir(dir, 0o700); err != nil {
					fmt.Fprintln(stderr, "bench:", err)
					return exitError
				}
				logf("%s %s...", e.name, m.Name)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
				vals, err := m.Run(ctx, MeasureEnv{Dir: dir, Factory: e.factory, Next: gen.next,
					Quick: o.quick, Logf: logf, ChildCommand: childCommand})
				cancel()
				if err != nil {
					failed = true
					r.errs[m.Name] = err.Error()
					logf("  ERROR %s %s: %v", e.name, m.Name, err)
				}
				for k, v := range vals {
					r.extra[k] = v
				}
				if !o.keep {
					os.RemoveAll(dir)
				}
			}
		}
	}
	for i, r := range rows {
		if info := r.takeRounds(samples[i]); info != "" {
			r.infos = append(r.infos, info)
		}
	}

	logf("measuring fsync rate again...")
	fsync2, err := measureFsync(root, o.fsyncMode, o.warmup, max(o.duration/2, 500*time.Millisecond))
	if err != nil {
		fmt.Fprintln(stderr, "bench: fsync:", err)
		return exitError
	}
	fsyncSamples = append(fsyncSamples, fsync2)
	fs := summarize(fsyncSamples)
	fsync := fs.median

	// Report.
	fmt.Fprintln(stdout)
	fmt.Fprintf(stdout, "fsync_per_s: %s  (%s of %d B in one goroutine; median of %d samples taken at the start,\n"+
		"             before each store and at the end: min %s, max %s)\n",
		fmtRate(fsync), o.fsyncMode, fsyncRecordSize, fs.n, fmtRate(fs.min), fmtRate(fs.max))
	fmt.Fprintf(stdout, "load average: %s at start, %s at end (2 cores here: anything well above the benchmark's own ~1-2 distorts results)\n",
		load0, loadAvg())
	if fs.min < 0.7*fs.median || fs.max > 1.3*fs.median {
		fmt.Fprintln(stdout, "WARNING: the fsync rate varied by more than 30% around its median during the run (other load on the machine or disk): ratios are noisy, rerun when it is quiet")
	}
	fmt.Fprintln(stdout)
	renderTable(stdout, rows, fsync, o.producers)
	fmt.Fprintln(stdout)
	fmt.Fprintln(stdout, "stores:")
	for _, r := range rows {
		fmt.Fprintf(stdout, "  %-20s %s\n", r.name, r.desc)
		for _, info := range r.infos {
			fmt.Fprintf(stdout, "  %-20s %s\n", "", info)
		}
		for _, wl := range sortedKeys(r.errs) {
			fmt.Fprintf(stdout, "  %-20s ERROR in %s: %s\n", "", wl, r.errs[wl])
		}
	}
	_, nd := peerRates(rows)
	if len(nd) > 0 {
		fmt.Fprintln(stdout)
		fmt.Fprintln(stdout, "not durable per operation (reported under peers_not_durable, not a competitor):")
		for _, n := range sortedKeys(nd) {
			fmt.Fprintf(stdout, "  %s: %s\n", n, nd[n].Why)
		}
	}

	var oursRow *row
	for _, r := range rows {
		if r.ours || r.standIn {
			oursRow = r
		}
	}
	peers, _ := peerRates(rows)
	fmt.Fprintln(stdout)
	targetsFailed := false
	switch {
	case oursRow == nil && oursEntry == nil:
		fmt.Fprintln(stdout, "targets: not checked (neither ours nor a baseline is registered)")
		targetsFailed = true
	case oursRow == nil:
		fmt.Fprintf(stdout, "targets: not checked (%s not selected by -only)\n", oursEntry.name)
		targetsFailed = true
	case oursRow.standIn:
		fmt.Fprintf(stdout, "targets: NOT CHECKED — ours.go is not registered. For reference, the stand-in %s would give:\n", oursRow.name)
		renderTargets(stdout, checkTargets(oursRow, fsync, peers), "  (stand-in) ")
		targetsFailed = true
	default:
		fmt.Fprintln(stdout, "targets (ours):")
		ts := checkTargets(oursRow, fsync, peers)
		renderTargets(stdout, ts, "")
		for _, t := range ts {
			targetsFailed = targetsFailed || !t.pass
		}
	}

	var extra map[string]float64
	if oursRow != nil && len(oursRow.extra) > 0 {
		extra = oursRow.extra
	}
	hasExtra := false
	for _, r := range rows {
		hasExtra = hasExtra || len(r.extra) > 0
	}
	if hasExtra {
		fmt.Fprintln(stdout)
		fmt.Fprintln(stdout, "extra measurements:")
		for _, r := range rows {
			for _, k := range sortedKeys(r.extra) {
				fmt.Fprintf(stdout, "  %-20s %s = %g\n", r.name, k, r.extra[k])
			}
		}
	}

	extra = maps.Clone(extra)
	if extra == nil {
		extra = map[string]float64{}
	}
	extra["gogc"] = float64(gcPercent())
	line, err := summaryLine(fsync, oursRow, rows, extra)
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		failed = true
		line = "{}"
	}
	fmt.Fprintln(stdout)
	fmt.Fprintln(stdout, line)
	switch {
	case failed:
		return exitError
	case o.strict && targetsFailed:
		return exitTargets
	}
	return exitOK
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// loadAvg is the 1-minute load average ("?" where /proc/loadavg does not exist).
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return "?"
}
