//go:build unix

package queue

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/writeback-agent/wbagent/agent/writeback"
)

var crashKills = flag.Int("crash.kills", 50, "how many times TestCrashRecovery kills the writer")

const crashChildEnv = "WBAGENT_QUEUE_CRASH_CHILD"

// TestCrashRecovery runs a child process that enqueues (and files) continuously and
// acknowledges each operation on stdout only after it committed, kills it with SIGKILL at
// random moments, and checks after every kill that each acknowledged record is present
// exactly once, readable, and in at least the state acknowledged.
func TestCrashRecovery(t *testing.T) {
	if os.Getenv(crashChildEnv) != "" {
		t.Skip("running as the child")
	}
	if testing.Short() {
		t.Skip("kills a child process many times")
	}
	dir := t.TempDir()
	key := testKey(t)
	acked := map[string]string{} // job id → last acknowledged state
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	t.Logf("killing the writer %d times", *crashKills)
	for round := 0; round < *crashKills; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v=false")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, "WBAGENT_QUEUE_CRASH_KEY="+hex.EncodeToString(key),
			fmt.Sprintf("WBAGENT_QUEUE_CRASH_ROUND=%d", round))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(lines)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
		// Wait until the child works, then let it run a random while and kill it.
		if l, ok := <-lines; !ok || l != "READY" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("round %d: child did not start (%q)", round, l)
		}
		timer := time.After(time.Duration(5+rng.IntN(120)) * time.Millisecond)
	collect:
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					break collect
				}
				recordAck(t, acked, l)
			case <-timer:
				cmd.Process.Signal(syscall.SIGKILL)
				timer = nil
			}
		}
		wg.Wait()
		cmd.Wait()
		verifyAfterCrash(t, dir, key, acked, round)
	}
	if len(acked) < *crashKills {
		t.Fatalf("only %d operations acknowledged over %d rounds: the child hardly ran", len(acked), *crashKills)
	}
}

func recordAck(t *testing.T, acked map[string]string, line string) {
	kind, job, ok := strings.Cut(line, " ")
	if !ok {
		t.Fatalf("child said %q", line)
	}
	switch kind {
	case "QUEUED":
		if _, seen := acked[job]; !seen {
			acked[job] = string(Received)
		}
	case "FILED":
		acked[job] = string(Filed)
	default:
		t.Fatalf("child said %q", line)
	}
}

func verifyAfterCrash(t *testing.T, dir string, key []byte, acked map[string]string, round int) {
	t.Helper()
	q, err := Open(Options{Dir: dir, Key: key})
	if err != nil {
		t.Fatalf("round %d: reopen after kill: %v", round, err)
	}
	defer q.Close()
	perJob := map[string]int{}
	err = q.Each(Filter{}, func(r *Record) error {
		perJob[r.JobID]++
		if r.State == Filing {
			return fmt.Errorf("record %d still filing after restart", r.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("round %d: %v", round, err)
	}
	for job, n := range perJob {
		if n != 1 {
			t.Fatalf("round %d: job %s has %d records", round, job, n)
		}
	}
	for job, state := range acked {
		id, err := q.LookupJob(job)
		if err != nil {
			t.Fatalf("round %d: acknowledged job %s lost: %v", round, job, err)
		}
		if perJob[job] != 1 {
			t.Fatalf("round %d: acknowledged job %s indexed but not listed", round, job)
		}
		r, err := q.Get(id)
		if err != nil {
			t.Fatalf("round %d: job %s unreadable: %v", round, job, err)
		}
		if state == string(Filed) && r.State != Filed {
			t.Fatalf("round %d: job %s acknowledged filed, now %s", round, job, r.State)
		}
		if _, err := q.Document(id); err != nil {
			t.Fatalf("round %d: job %s document: %v", round, job, err)
		}
		for i := range r.Attachments {
			rc, err := q.OpenAttachment(id, i)
			if err == nil {
				_, err = io.Copy(io.Discard, rc)
				rc.Close()
			}
			if err != nil {
				t.Fatalf("round %d: job %s attachment %d: %v", round, job, i, err)
			}
		}
	}
}

// TestCrashChild is the child side of TestCrashRecovery.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashChildEnv)
	if dir == "" {
		t.Skip("only runs as TestCrashRecovery's child")
	}
	key, _ := hex.DecodeString(os.Getenv("WBAGENT_QUEUE_CRASH_KEY"))
	round := os.Getenv("WBAGENT_QUEUE_CRASH_ROUND")
	q, err := Open(Options{Dir: dir, Key: key, LockTimeout: 10 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(3)
	}
	var mu sync.Mutex
	say := func(s string) { mu.Lock(); os.Stdout.WriteString(s + "\n"); mu.Unlock() }
	say("READY")
	ctx := context.Background()
	var wg sync.WaitGroup
	for p := 0; p < 4; p++ { // producers, some with attachments, some in pages
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				if i%7 == 3 {
					var subs []Submission
					for j := 0; j < 3; j++ {
						subs = append(subs, Submission{Doc: doc(fmt.Sprintf("r%s-p%d-%d-%d", round, p, i, j))})
					}
					if _, err := q.EnqueueBatch(ctx, subs, system); err != nil {
						os.Exit(4)
					}
					for _, s := range subs {
						say("QUEUED " + s.Doc.JobID)
					}
					continue
				}
				d := doc(fmt.Sprintf("r%s-p%d-%d", round, p, i))
				if i%5 == 0 {
					d.Attachments = []writeback.Attachment{{FileName: "a.txt", MediaType: "text/plain",
						DataBase64: base64.StdEncoding.EncodeToString([]byte(strings.Repeat("x", 10_000+i)))}}
				}
				if _, err := q.Enqueue(ctx, Submission{Doc: d}, system); err != nil {
					os.Exit(4)
				}
				say("QUEUED " + d.JobID)
			}
		}()
	}
	wg.Add(1)
	go func() { // a filer taking each record through its whole life
		defer wg.Done()
		for i := 0; ; i++ {
			job := fmt.Sprintf("r%s-f-%d", round, i)
			res, err := q.Enqueue(ctx, Submission{Doc: doc(job)}, system)
			if err != nil {
				os.Exit(4)
			}
			say("QUEUED " + job)
			q.MarkChecked(ctx, res.ID, system)
			q.Confirm(ctx, res.ID, ConfirmOptions{}, system)
			c, err := q.Claim(ctx, ClaimRequest{Owner: "child", Eligible: func(string) bool { return true }})
			if err != nil {
				continue
			}
			if _, err := q.MarkFiled(ctx, c.Ticket, FilingOutcome{ConsultationGUID: "g"}); err == nil {
				say("FILED " + c.Record.JobID)
			}
		}
	}()
	wg.Wait()
}
