//go:build linux

package queue

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/writeback-agent/wbagent/agent/queue/internal/powercut"
)

// Power cuts: unlike a SIGKILL, which leaves the kernel's page cache to finish every write,
// a cut loses whatever was not made durable. See package powercut for the model.
const (
	powercutsEnv    = "WBAGENT_POWERCUTS"     // how many cuts TestPowerCuts makes (default 100)
	powercutSeedEnv = "WBAGENT_POWERCUT_SEED" // reproduces a run
)

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
		t0 := time.Now()
		img, fresh := powercutRound(t, rng, base, disk, key, acked, round)
		t1 := time.Now()
		lost, torn, kept = lost+img.Lost, torn+img.Torn, kept+img.Kept
		next := filepath.Join(base, fmt.Sprintf("disk-%d", round+1))
		if err := img.WriteTo(next); err != nil {
			t.Fatal(err)
		}
		os.RemoveAll(disk)
		disk = next
		t2 := time.Now()
		verifyAfterCrash(t, disk, key, acked, fresh, rng, round)
		if os.Getenv("PCDEBUG") != "" {
			fi, _ := os.Stat(filepath.Join(disk, DBFileName))
			t.Logf("round %d: run %v write %v verify %v size %d", round, t1.Sub(t0), t2.Sub(t1), time.Since(t2), fi.Size())
		}
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
	fsys.Trigger = func(name string, pending int) bool {
		if pending == 0 {
			return false // a name change: cut at writes
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
	started := time.Now()
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
				if os.Getenv("PCDEBUG") != "" {
					t.Logf("ready after %v, writes so far %d, target %d", time.Since(started), fsys.Changes(), target)
				}
				continue
			}
			if job := recordAck(t, acked, l); job != "" {
				fresh = append(fresh, job)
			}
		case <-cutSeen:
			if os.Getenv("PCDEBUG") != "" {
				t.Logf("cut after %v, changes %d, acks %d", time.Since(started), fsys.Changes(), len(fresh))
			}
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
	tu := time.Now()
	if os.Getenv("PCDEBUG") != "" {
		defer func() { t.Logf("unmount took %v; child ran %v", time.Since(tu), tu.Sub(started)) }()
	}
	if uerr := srv.Unmount(); uerr != nil {
		t.Fatalf("round %d: unmount: %v", round, uerr)
	}
	if exited || timedOut {
		t.Fatalf("round %d: the child ended before the cut (%v, timed out %v); its output:\n%s", round, err, timedOut, stderr.String())
	}
	return fsys.Image(), fresh
}
