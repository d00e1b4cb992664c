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
		// Wait until the child works, then let it run a random while and kill it. A child
		// that shows no life is made to dump its goroutines (SIGQUIT) before the test fails.
		select {
		case l, ok := <-lines:
			if !ok || l != "READY" {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("round %d: child did not start (%q)", round, l)
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Signal(syscall.SIGQUIT)
			cmd.Wait()
			t.Fatalf("round %d: child hung before it was ready (its goroutines are above)", round)
		}
		var fresh []string // jobs first acknowledged in this round
		timer := time.After(time.Duration(5+rng.IntN(120)) * time.Millisecond)
	collect:
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					break collect
				}
				if job := recordAck(t, acked, l); job != "" {
					fresh = append(fresh, job)
				}
			case <-timer:
				cmd.Process.Signal(syscall.SIGKILL)
				timer = nil
			}
		}
		wg.Wait()
		cmd.Wait()
		verifyAfterCrash(t, dir, key, acked, fresh, rng, round)
	}
	if len(acked) < *crashKills {
		t.Fatalf("only %d operations acknowledged over %d rounds: the child hardly ran", len(acked), *crashKills)
	}
}

// recordAck notes an acknowledgement and returns the job id if it is new or newly filed.
func recordAck(t *testing.T, acked map[string]string, line string) string {
	kind, job, ok := strings.Cut(line, " ")
	if !ok {
		t.Fatalf("child said %q", line)
	}
	switch kind {
	case "QUEUED":
		if _, seen := acked[job]; !seen {
			acked[job] = string(Received)
			return job
		}
	case "FILED":
		acked[job] = string(Filed)
		return job
	default:
		t.Fatalf("child said %q", line)
	}
	return ""
}

// verifyAfterCrash reopens the queue and checks, in one pass over every record, that each
// job is one record, none is left filing, and every acknowledged job is there in at least
// the state acknowledged; then it reads back, through the job index, document and
// attachments, the jobs acknowledged in this round and a random sample of older ones (all of
// them every round would make the test quadratic in the number of kills).
func verifyAfterCrash(t *testing.T, dir string, key []byte, acked map[string]string, fresh []string, rng *rand.Rand, round int) {
	t.Helper()
	q, err := Open(Options{Dir: dir, Key: key})
	if err != nil {
		t.Fatalf("round %d: reopen after kill: %v", round, err)
	}
	defer q.Close()
	byJob := map[string]*Record{}
	err = q.Each(Filter{}, func(r *Record) error {
		if byJob[r.JobID] != nil {
			return fmt.Errorf("job %s has records %d and %d", r.JobID, byJob[r.JobID].ID, r.ID)
		}
		if r.State == Filing {
			return fmt.Errorf("record %d still filing after restart", r.ID)
		}
		byJob[r.JobID] = r
		return nil
	})
	if err != nil {
		t.Fatalf("round %d: %v", round, err)
	}
	for job, state := range acked {
		r := byJob[job]
		if r == nil {
			t.Fatalf("round %d: acknowledged job %s lost", round, job)
		}
		if state == string(Filed) && r.State != Filed {
			t.Fatalf("round %d: job %s acknowledged filed, now %s", round, job, r.State)
		}
	}
	deep := append([]string(nil), fresh...)
	older := make([]string, 0, len(acked))
	for job := range acked {
		older = append(older, job)
	}
	for i := 0; i < 20 && len(older) > 0; i++ {
		deep = append(deep, older[rng.IntN(len(older))])
	}
	for _, job := range deep {
		id, err := q.LookupJob(job)
		if err != nil || id != byJob[job].ID {
			t.Fatalf("round %d: job index for %s: %d, %v (record %d)", round, job, id, err, byJob[job].ID)
		}
		if _, err := q.Document(id); err != nil {
			t.Fatalf("round %d: job %s document: %v", round, job, err)
		}
		for i := range byJob[job].Attachments {
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
						fmt.Fprintln(os.Stderr, "child enqueue:", err)
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
					fmt.Fprintln(os.Stderr, "child enqueue:", err)
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
				fmt.Fprintln(os.Stderr, "child enqueue:", err)
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
