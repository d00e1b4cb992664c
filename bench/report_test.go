package main

import (
	"bufio"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"
)

func TestFmtRate(t *testing.T) {
	for _, c := range []struct {
		in   float64
		want string
	}{
		{0, "0"}, {7.4, "7"}, {999.5, "1,000"}, {1234, "1,234"}, {123456.7, "123,457"},
		{1234567, "1,234,567"}, {-4321, "-4,321"},
	} {
		if got := fmtRate(c.in); got != c.want {
			t.Errorf("fmtRate(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestRatio(t *testing.T) {
	if got := fmtRatio(11000, 2000); got != "5.50×" {
		t.Errorf("fmtRatio = %q", got)
	}
	if got := fmtRatio(1, 0); got != "n/a" {
		t.Errorf("fmtRatio with zero reference = %q", got)
	}
	if ratio(5, 0) != 0 || ratio(6, 3) != 2 {
		t.Error("ratio")
	}
}

func TestSummarize(t *testing.T) {
	s := summarize([]float64{5, 1, 3, 100})
	if s.n != 4 || s.min != 1 || s.max != 100 || s.median != 4 {
		t.Errorf("summarize = %+v", s)
	}
	if s := summarize([]float64{2, 9, 4}); s.median != 4 {
		t.Errorf("odd median = %v", s.median)
	}
}

func testRows() []*row {
	return []*row{
		{name: "ours", group: "ours", ours: true, rates: map[string]float64{
			wlEnqueue1: 1000, wlEnqueueN: 12000, wlCycle: 6500, wlBacklog: 900}},
		{name: "leveldb", group: "leveldb", rates: map[string]float64{wlEnqueue1: 500, wlEnqueueN: 9000, wlCycle: 4000}},
		{name: "sqlite-a", group: "sqlite", rates: map[string]float64{wlEnqueueN: 7000}},
		{name: "sqlite-b", group: "sqlite", rates: map[string]float64{wlEnqueueN: 800}},
		{name: "broken", group: "broken", rates: map[string]float64{}, errs: map[string]string{wlEnqueueN: "boom"}},
		{name: "dq", group: "dq", notDurable: "acks before fsync", rates: map[string]float64{wlEnqueueN: 30000}},
	}
}

func TestPeerRates(t *testing.T) {
	peers, nd := peerRates(testRows())
	want := map[string]float64{"leveldb": 9000, "sqlite": 7000}
	if len(peers) != len(want) {
		t.Fatalf("peers = %v, want %v", peers, want)
	}
	for k, v := range want {
		if peers[k] != v {
			t.Errorf("peers[%s] = %v, want %v", k, peers[k], v)
		}
	}
	if len(nd) != 1 || nd["dq"].Enqueue64 != 30000 || nd["dq"].Why != "acks before fsync" {
		t.Errorf("not durable = %+v", nd)
	}
}

func TestCheckTargets(t *testing.T) {
	rows := testRows()
	peers, _ := peerRates(rows)
	ts := checkTargets(rows[0], 2000, peers)
	want := map[string]bool{
		"enqueue_64 ≥ 5.5× fsync":            true, // 12000 ≥ 11000
		"enqueue_1 ≥ 0.45× fsync":            true, // 1000 ≥ 900
		"enqueue_1_backlog ≥ 0.8× enqueue_1": true, // 900 ≥ 800
	}
	if len(ts) != len(want) {
		t.Fatalf("got %d targets, want %d", len(ts), len(want))
	}
	for _, tg := range ts {
		if w, ok := want[tg.name]; !ok || w != tg.pass {
			t.Errorf("target %q pass=%v (%s), want %v", tg.name, tg.pass, tg.detail, w)
		}
	}
	// A faster disk makes the same numbers fail; a missing workload fails.
	delete(rows[0].rates, wlBacklog)
	for _, tg := range checkTargets(rows[0], 2500, peers) {
		if tg.pass {
			t.Errorf("target %q should fail: %s", tg.name, tg.detail)
		}
	}
}

func TestRenderTable(t *testing.T) {
	rows := testRows()
	rows[0].ours, rows[0].standIn = false, true
	var sb strings.Builder
	renderTable(&sb, rows, 2000, 64)
	out := sb.String()
	for _, want := range []string{"enqueue_64/s", "ours *", "12,000 (6.00×)", "ERROR", "NOT DURABLE", "stand-in"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "\n"); n != len(rows)+1 {
		t.Errorf("table has %d lines, want %d:\n%s", n, len(rows)+1, out)
	}
}

func TestSummaryLine(t *testing.T) {
	rows := testRows()
	line, err := summaryLine(2000, rows[0], rows, map[string]float64{"rss_anon_kb": 1234})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(line, "\n") {
		t.Fatal("summary spans lines")
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("%v: %s", err, line)
	}
	for _, k := range []string{"fsync_per_s", "enqueue_1_per_s", "enqueue_64_per_s", "cycle_per_s",
		"enqueue_1_backlog_per_s", "peers", "peers_not_durable", "rss_anon_kb"} {
		if _, ok := m[k]; !ok {
			t.Errorf("key %s missing: %s", k, line)
		}
	}
	if m["enqueue_64_per_s"].(float64) != 12000 || m["rss_anon_kb"].(float64) != 1234 {
		t.Errorf("values: %s", line)
	}
	if _, ok := m["ours_stand_in"]; ok {
		t.Error("ours_stand_in set for ours")
	}

	// Not measured -> null; stand-in named.
	rows[0].ours, rows[0].standIn = false, true
	delete(rows[0].rates, wlBacklog)
	line, _ = summaryLine(2000, rows[0], rows, nil)
	m = nil
	json.Unmarshal([]byte(line), &m)
	if v, ok := m["enqueue_1_backlog_per_s"]; !ok || v != nil {
		t.Errorf("unmeasured rate should be null: %s", line)
	}
	if m["ours_stand_in"] != "ours" {
		t.Errorf("stand-in not named: %s", line)
	}
	if _, err := summaryLine(1, rows[0], rows, map[string]float64{"peers": 1}); err == nil {
		t.Error("clashing extra key accepted")
	}
}

func TestParseProcStatus(t *testing.T) {
	in := "Name:\tbench\nVmRSS:\t   20480 kB\nRssAnon:\t    8192 kB\nRssFile:\t   12288 kB\nThreads:\t5\n"
	m, err := parseProcStatusKB(bufio.NewScanner(strings.NewReader(in)))
	if err != nil {
		t.Fatal(err)
	}
	if m["RssAnon"] != 8192 || m["RssFile"] != 12288 || m["VmRSS"] != 20480 {
		t.Errorf("got %v", m)
	}
	if _, ok := m["Threads"]; ok {
		t.Error("non-kB field parsed")
	}
}

func TestFindMount(t *testing.T) {
	const mi = `22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
30 22 0:25 / /tmp rw,nosuid shared:2 - tmpfs tmpfs rw,size=1024k
31 22 0:26 / /mnt/my\040disk rw,noatime - xfs /dev/vdb rw
`
	for _, c := range []struct{ path, mp, fs string }{
		{"/tmp/wbbench-1", "/tmp", "tmpfs"},
		{"/tmpfoo/x", "/", "ext4"},
		{"/var/lib", "/", "ext4"},
		{"/mnt/my disk/q", "/mnt/my disk", "xfs"},
	} {
		m, ok := findMount(strings.NewReader(mi), c.path)
		if !ok || m.MountPoint != c.mp || m.FSType != c.fs {
			t.Errorf("findMount(%s) = %+v %v, want %s %s", c.path, m, ok, c.mp, c.fs)
		}
	}
}

func TestSelectEntries(t *testing.T) {
	all, err := selectEntries("")
	if err != nil || len(all) != len(registry) {
		t.Fatalf("all: %v %d", err, len(all))
	}
	got, err := selectEntries("sqlite, leveldb")
	if err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for _, e := range got {
		names = append(names, e.name)
	}
	if strings.Join(names, ",") != "leveldb,sqlite-groupcommit,sqlite-txn" {
		t.Errorf("selected %v", names)
	}
	if _, err := selectEntries("nosuchstore"); err == nil {
		t.Error("unknown name accepted")
	}
}

func TestWorkloadsFlag(t *testing.T) {
	o, err := parseFlags([]string{"-workloads", " enqueue_64, cycle "}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got := splitList(o.workloads); !slices.Equal(got, []string{wlEnqueueN, wlCycle}) {
		t.Errorf("workloads %v", got)
	}
	if _, err := parseFlags([]string{"-workloads", "enqueue_64,nosuch"}, io.Discard); err == nil || !strings.Contains(err.Error(), `"nosuch"`) {
		t.Errorf("unknown workload: err = %v, want it named", err)
	}
}

func TestTakeRoundsKeepsTheMedianAndSaysTheSpread(t *testing.T) {
	r := &row{rates: map[string]float64{}}
	info := r.takeRounds(map[string][]float64{
		wlEnqueueN: {50_000, 30_000, 40_000},
		wlCycle:    {12_000, 16_000, 14_000},
		wlBacklog:  {6_000},
	})
	if r.rates[wlEnqueueN] != 40_000 || r.rates[wlCycle] != 14_000 || r.rates[wlBacklog] != 6_000 {
		t.Errorf("rates %v, want the medians", r.rates)
	}
	if _, ok := r.rates[wlEnqueue1]; ok {
		t.Error("a workload with no rounds got a rate")
	}
	if !strings.Contains(info, "3 rounds") || !strings.Contains(info, "enqueue_64 30,000-50,000") ||
		!strings.Contains(info, "cycle 12,000-16,000") || strings.Contains(info, "backlog") {
		t.Errorf("info %q", info)
	}
	if info := (&row{rates: map[string]float64{}}).takeRounds(map[string][]float64{wlCycle: {1}}); info != "" {
		t.Errorf("one round: info %q, want none", info)
	}
}

func TestRoundsFlag(t *testing.T) {
	t.Setenv("QUICK", "")
	for _, c := range []struct {
		args []string
		want int
	}{
		{nil, 3},
		{[]string{"-quick"}, 1},
		{[]string{"-quick", "-rounds", "2"}, 2},
		{[]string{"-rounds", "5"}, 5},
	} {
		o, err := parseFlags(c.args, io.Discard)
		if err != nil || o.rounds != c.want {
			t.Errorf("%v: rounds %d, %v; want %d", c.args, o.rounds, err, c.want)
		}
	}
	if _, err := parseFlags([]string{"-rounds", "0"}, io.Discard); err == nil {
		t.Error("-rounds 0 accepted")
	}
}
