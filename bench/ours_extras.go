package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/writeback-agent/wbagent/agent/queue"
)

// Two measurements of ours that are not throughput, each in a child process that does
// nothing else: the private memory of a service holding a 10,000-record queue it has just
// scanned, and the CPU it burns while idle. Targets: RssAnon under 30 MB (the mmap'd file,
// RssFile, is reclaimable page cache and reported apart) and idle CPU under 0.05 % of a core.

const (
	memoryRecords   = 10_000
	memoryTargetKB  = 30 * 1024
	idleCPUTargetPc = 0.05
)

func init() {
	registerChild("hold-queue", holdQueue)
}

var oursExtras = Measurement{Name: "memory and idle CPU", Run: measureMemoryAndIdle}

func measureMemoryAndIdle(ctx context.Context, env MeasureEnv) (map[string]float64, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	env.Logf("  queuing %d records for the memory measurement", memoryRecords)
	if err := fillQueue(ctx, env, key); err != nil {
		return nil, err
	}
	cmd, err := env.ChildCommand(ctx, "hold-queue", env.Dir, hex.EncodeToString(key))
	if err != nil {
		return nil, err
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		return nil, fmt.Errorf("hold-queue child: %q, %v", line, err)
	}
	pid := cmd.Process.Pid
	status, err := readProcStatusKB(pid)
	if err != nil {
		return nil, err
	}
	idle := 5 * time.Second
	if env.Quick {
		idle = 3 * time.Second
	}
	before, err := cpuNanos(pid)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	time.Sleep(idle)
	after, err := cpuNanos(pid)
	if err != nil {
		return nil, err
	}
	idlePct := 100 * float64(after-before) / float64(time.Since(start).Nanoseconds())
	return map[string]float64{
		"rss_anon_kb":  float64(status["RssAnon"]),
		"rss_file_kb":  float64(status["RssFile"]),
		"idle_cpu_pct": idlePct,
	}, nil
}

// fillQueue queues memoryRecords records in env.Dir, a page of 500 per transaction.
func fillQueue(ctx context.Context, env MeasureEnv, key []byte) error {
	q, err := queue.Open(queue.Options{Dir: env.Dir, Key: key})
	if err != nil {
		return err
	}
	for n := 0; n < memoryRecords; {
		var page []queue.Submission
		for ; len(page) < 500 && n < memoryRecords; n++ {
			job, payload := env.Next()
			page = append(page, queue.Submission{Doc: benchDoc(job, payload)})
		}
		if _, err := q.EnqueueBatch(ctx, page, benchActor); err != nil {
			q.Close()
			return err
		}
	}
	return q.Close()
}

// holdQueue is the child: open the queue, scan every record as the agent does when it
// lists the queue, report ready, then sit idle until stdin closes.
func holdQueue(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("usage: hold-queue DIR KEYHEX")
	}
	key, err := hex.DecodeString(args[1])
	if err != nil {
		return err
	}
	q, err := queue.Open(queue.Options{Dir: args[0], Key: key})
	if err != nil {
		return err
	}
	defer q.Close()
	n := 0
	if err := q.Each(queue.Filter{}, func(*queue.Record) error { n++; return nil }); err != nil {
		return err
	}
	if n != memoryRecords {
		return fmt.Errorf("scanned %d records, want %d", n, memoryRecords)
	}
	if _, err := q.Counts(); err != nil {
		return err
	}
	runtime.GC() // the steady state a running service reaches by itself
	fmt.Println("ready")
	buf := make([]byte, 1)
	os.Stdin.Read(buf) // until the parent closes stdin
	return nil
}

// cpuNanos is the CPU time used so far by all threads of process pid, from
// /proc/<pid>/task/*/schedstat (nanoseconds; /proc/<pid>/stat counts 10 ms ticks, too coarse
// for a 0.05 % target).
func cpuNanos(pid int) (int64, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(tasks) == 0 {
		return 0, fmt.Errorf("read schedstat of %d: %v", pid, err)
	}
	var total int64
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue // a thread that just exited
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			continue
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}
