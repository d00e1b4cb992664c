//go:build linux

package queue

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/writeback-agent/wbagent/agent/condition"
	"github.com/writeback-agent/wbagent/agent/queue/internal/powercut"
	"github.com/writeback-agent/wbagent/agent/writeback"
)

// Power cuts: unlike a SIGKILL, which leaves the kernel's page cache to finish every write,
// a cut loses whatever was not made durable. See package powercut for the model.
const (
	powercutsEnv    = "WBAGENT_POWERCUTS"     // how many cuts TestPowerCuts makes (default 100)
	powercutSeedEnv = "WBAGENT_POWERCUT_SEED" // reproduces a run
)

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// needFUSE skips the test where there is no /dev/fuse to mount the power-cut file system.
func needFUSE(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skipf("power-cut tests need FUSE: /dev/fuse is missing (%v); they run where it exists and the tests run as root", err)
	}
}

func envInt(t *testing.T, name string, def uint64) uint64 {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		t.Fatalf("%s=%q: want a number", name, v)
	}
	return n
}

// TestPowerCuts runs the crash child (TestCrashChild: producers with attachments and pages,
// and a filer taking records through their whole life, each operation acknowledged on stdout
// once it returned) on the power-cut file system, cuts power at a moment a queue file has a
// pending write, kills the child, unmounts, and opens what the disk kept: the queue must
// open, and every acknowledged operation must be there exactly once, in at least the state
// acknowledged, readable, its attachments intact. Half the cuts lose everything pending,
// half keep a random part of it, torn writes included.
func TestPowerCuts(t *testing.T) {
	if os.Getenv(crashChildEnv) != "" {
		t.Skip("running as the child")
	}
	if testing.Short() {
		t.Skip("cuts power under a child process many times")
	}
	if raceEnabled {
		t.Skip("the race detector slows the file system's server several times over; make test runs the power cuts without it")
	}
	needFUSE(t)
	cuts := int(envInt(t, powercutsEnv, 100))
	seed := envInt(t, powercutSeedEnv, uint64(time.Now().UnixNano()))
	t.Logf("%d power cuts, seed %d (%s=%d %s=%d reproduces the choices)", cuts, seed, powercutSeedEnv, seed, powercutsEnv, cuts)
	rng := rand.New(rand.NewPCG(seed, 20))
	base := t.TempDir()
	disk := filepath.Join(base, "disk-0")
	if err := os.Mkdir(disk, 0o700); err != nil {
		t.Fatal(err)
	}
	key := testKey(t)
	acked := map[string]string{}
	var lost, torn, kept int
	for round := 0; round < cuts; round++ {
		img, fresh := powercutRound(t, rng, base, disk, key, acked, round)
		lost, torn, kept = lost+img.Lost, torn+img.Torn, kept+img.Kept
		next := filepath.Join(base, fmt.Sprintf("disk-%d", round+1))
		if err := img.WriteTo(next); err != nil {
			t.Fatal(err)
		}
		os.RemoveAll(disk)
		disk = next
		verifyAfterCrash(t, disk, key, acked, fresh, rng, round)
	}
	t.Logf("%d cuts: %d operations acknowledged; the cuts lost %d pending changes, tore %d writes and kept %d", cuts, len(acked), lost, torn, kept)
	if len(acked) < cuts {
		t.Fatalf("only %d operations acknowledged over %d cuts: the child hardly ran", len(acked), cuts)
	}
}

// powercutRound mounts disk, runs the child on it until the cut, and returns what the disk
// kept and the jobs first acknowledged in this round.
func powercutRound(t *testing.T, rng *rand.Rand, base, disk string, key []byte, acked map[string]string, round int) (*powercut.Image, []string) {
	t.Helper()
	fsys, err := powercut.Load(disk)
	if err != nil {
		t.Fatal(err)
	}
	fsys.Rand = rand.New(rand.NewPCG(rng.Uint64(), 21))
	fsys.KeepSome = rng.IntN(2) == 0
	target, writes := 1+rng.IntN(150), 0
	cut := make(chan struct{})
	fsys.OnCut = func() { close(cut) }
	fsys.Trigger = func(name string, pending int, data []byte) bool {
		if data == nil || allZero(data) {
			return false // cut at writes of data: not at name changes, nor at the zeros the queue writes ahead of bbolt's pages
		}
		writes++
		return writes >= target
	}
	mnt := filepath.Join(base, fmt.Sprintf("mnt-%d", round))
	if err := os.Mkdir(mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	srv, err := fsys.Mount(mnt)
	if err != nil {
		t.Fatalf("mount the power-cut file system: %v", err)
	}
	defer os.Remove(mnt)

	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v=false")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+mnt, "WBAGENT_QUEUE_CRASH_KEY="+hex.EncodeToString(key),
		fmt.Sprintf("WBAGENT_QUEUE_CRASH_ROUND=p%d", round))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1024)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	})
	var fresh []string
	exited, timedOut := false, false
	timeout := time.After(60 * time.Second)
	cutSeen := cut
collect:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				break collect
			}
			if l == "READY" {
				continue
			}
			if job := recordAck(t, acked, l); job != "" {
				fresh = append(fresh, job)
			}
		case <-cutSeen:
			cutSeen = nil
			cmd.Process.Signal(syscall.SIGKILL)
		case <-timeout:
			timedOut = true
			fsys.Cut()
		}
	}
	wg.Wait()
	err = cmd.Wait()
	exited = fsys.Image() == nil
	if uerr := srv.Unmount(); uerr != nil {
		t.Fatalf("round %d: unmount: %v", round, uerr)
	}
	if exited || timedOut {
		t.Fatalf("round %d: the child ended before the cut (%v, timed out %v); its output:\n%s", round, err, timedOut, stderr.String())
	}
	return fsys.Image(), fresh
}

const (
	faultChildEnv = "WBAGENT_QUEUE_FAULT_CHILD" // the mount the fault child opens its queue in
	faultKindEnv  = "WBAGENT_QUEUE_FAULT_KIND"  // "fsync" or "full"
)

// A write that fails (fsync EIO, or the disk full) fails its callers with a clear error,
// raises the condition, leaves nothing half-visible, and the queue saves again by itself
// once the cause is gone; nothing acknowledged before is lost, even to a power cut after.
// The queue runs in a child process (TestFaultChild): a process must not map a file of a
// FUSE file system it serves itself (a page fault would wait for a server stopped by the
// garbage collector). The child asks for the fault on stdout; the test sets it and answers
// on stdin.
func TestWriteFailuresRaiseAConditionAndClearByThemselves(t *testing.T) {
	if os.Getenv(faultChildEnv) != "" {
		t.Skip("running as the child")
	}
	needFUSE(t)
	for _, c := range []struct {
		kind string
		set  func(f *powercut.FS, on bool)
	}{
		{"fsync", func(f *powercut.FS, on bool) { f.FailFsync = on }},
		{"full", func(f *powercut.FS, on bool) { f.FailWrites = on }},
	} {
		t.Run(c.kind, func(t *testing.T) {
			disk := t.TempDir()
			fsys, err := powercut.Load(disk)
			if err != nil {
				t.Fatal(err)
			}
			mnt := t.TempDir()
			srv, err := fsys.Mount(mnt)
			if err != nil {
				t.Fatalf("mount: %v", err)
			}
			key := testKey(t)
			cmd := exec.Command(os.Args[0], "-test.run=^TestFaultChild$", "-test.v=false")
			cmd.Env = append(os.Environ(), faultChildEnv+"="+mnt, faultKindEnv+"="+c.kind, "WBAGENT_QUEUE_CRASH_KEY="+hex.EncodeToString(key))
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			in, _ := cmd.StdinPipe()
			out, _ := cmd.StdoutPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			acked := map[string]State{}
			sc := bufio.NewScanner(out)
			done := false
			for !done && sc.Scan() {
				kind, arg, _ := strings.Cut(sc.Text(), " ")
				switch kind {
				case "FAULT":
					fsys.Lock()
					c.set(fsys, arg == "on")
					fsys.Unlock()
					fmt.Fprintln(in, "OK")
				case "ACK":
					job, st, _ := strings.Cut(arg, " ")
					acked[job] = State(st)
				case "DONE":
					done = true
				default:
					t.Errorf("child: %s", sc.Text())
				}
			}
			img := fsys.Cut()
			cmd.Process.Kill()
			cmd.Wait()
			if err := srv.Unmount(); err != nil {
				t.Fatal(err)
			}
			if !done || t.Failed() {
				t.Fatalf("the child did not finish; its output:\n%s", stderr.String())
			}
			after := filepath.Join(t.TempDir(), "after")
			if err := img.WriteTo(after); err != nil {
				t.Fatal(err)
			}
			q, err := Open(Options{Dir: after, Key: key})
			if err != nil {
				t.Fatalf("open after the cut: %v", err)
			}
			defer q.Close()
			if len(acked) < 4 {
				t.Fatalf("only %d jobs acknowledged", len(acked))
			}
			for job, st := range acked {
				id, err := q.LookupJob(job)
				if err != nil {
					t.Fatalf("%s lost: %v", job, err)
				}
				r, err := q.Get(id)
				if err != nil || r.State != st {
					t.Fatalf("%s: %+v, %v; want %s", job, r, err, st)
				}
				rc, err := q.OpenAttachment(id, 0)
				if err != nil {
					t.Fatalf("%s attachment: %v", job, err)
				}
				b, err := io.ReadAll(rc)
				rc.Close()
				if err != nil || string(b) != "hello" {
					t.Fatalf("%s attachment: %q, %v", job, b, err)
				}
			}
		})
	}
}

// TestFaultChild is the child side of TestWriteFailuresRaiseAConditionAndClearByThemselves.
func TestFaultChild(t *testing.T) {
	dir := os.Getenv(faultChildEnv)
	if dir == "" {
		t.Skip("only runs as TestWriteFailuresRaiseAConditionAndClearByThemselves's child")
	}
	fail := func(format string, args ...any) {
		fmt.Printf("FAIL "+format+"\n", args...)
		os.Exit(1)
	}
	code, errWant := CodeWriteFailed, ErrWriteFailed
	if os.Getenv(faultKindEnv) == "full" {
		code, errWant = CodeDiskFull, ErrDiskFull
	}
	key, _ := hex.DecodeString(os.Getenv("WBAGENT_QUEUE_CRASH_KEY"))
	conds := make(chan []condition.Condition, 16)
	q, err := Open(Options{Dir: dir, Key: key, ProbeEvery: 20 * time.Millisecond,
		OnConditions: func(cs []condition.Condition) { conds <- cs }})
	if err != nil {
		fail("open: %v", err)
	}
	stdin := bufio.NewScanner(os.Stdin)
	fault := func(on string) {
		fmt.Println("FAULT " + on)
		if !stdin.Scan() || stdin.Text() != "OK" {
			fail("no answer to FAULT %s", on)
		}
	}
	waitConds := func(want string) {
		deadline := time.After(20 * time.Second)
		for {
			select {
			case cs := <-conds:
				if (want == "" && len(cs) == 0) || (len(cs) == 1 && cs[0].Code == want) {
					if got := q.Conditions(); (want == "") != (len(got) == 0) {
						fail("Conditions() = %v, the callback said %v", got, cs)
					}
					return
				}
			case <-deadline:
				fail("condition %q not reported; Conditions() = %v", want, q.Conditions())
			}
		}
	}
	withAtt := func(job string) *writeback.Writeback {
		d := doc(job)
		d.Attachments = []writeback.Attachment{{FileName: "a.txt", MediaType: "text/plain", DataBase64: "aGVsbG8="}}
		return d
	}
	res, err := q.Enqueue(ctx, Submission{Doc: withAtt("job-before")}, system)
	if err != nil {
		fail("enqueue: %v", err)
	}
	if _, err := q.MarkChecked(ctx, res.ID, system); err != nil {
		fail("check: %v", err)
	}
	fmt.Println("ACK job-before " + string(NeedsConfirmation))

	fault("on")
	for _, job := range []string{"job-failed", "job-failed-att"} {
		d := doc(job)
		if job == "job-failed-att" {
			d = withAtt(job)
		}
		if _, err := q.Enqueue(ctx, Submission{Doc: d}, system); !errors.Is(err, errWant) {
			fail("enqueue %s while failing: %v, want %v", job, err, errWant)
		}
	}
	if _, err := q.Confirm(ctx, res.ID, ConfirmOptions{}, system); !errors.Is(err, errWant) {
		fail("confirm while failing: %v, want %v", err, errWant)
	}
	waitConds(code)
	// Nothing half-visible: the record as last committed, its document and attachment
	// readable; a failed enqueue absent, or (a failed sync: outcome unknown) whole.
	if r, err := q.Get(res.ID); err != nil || (r.State != NeedsConfirmation && r.State != Ready) {
		fail("record after the failures: %+v, %v", r, err)
	}
	if _, err := q.Document(res.ID); err != nil {
		fail("document after the failures: %v", err)
	}
	for _, job := range []string{"job-failed", "job-failed-att"} {
		id, err := q.LookupJob(job)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if code == CodeDiskFull {
			fail("%s is visible after the disk was full: %d, %v", job, id, err)
		}
		if _, err := q.Document(id); err != nil {
			fail("%s half visible: %v", job, err)
		}
	}

	fault("off")
	waitConds("") // the probe finds that writes work again: no restart
	for _, job := range []string{"job-failed", "job-failed-att", "job-after"} {
		if _, err := q.Enqueue(ctx, Submission{Doc: withAtt(job)}, system); err != nil {
			fail("enqueue %s after the cause is gone: %v", job, err)
		}
		fmt.Println("ACK " + job + " " + string(Received))
	}
	if _, err := q.Confirm(ctx, res.ID, ConfirmOptions{}, system); err != nil && !errors.Is(err, ErrIllegalTransition) {
		fail("confirm after the cause is gone: %v", err)
	}
	fmt.Println("ACK job-before " + string(Ready))
	fmt.Println("DONE")
	select {} // killed by the test
}
