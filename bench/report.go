package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

// row is one store's results.
type row struct {
	name       string
	desc       string // Store.Name()
	note       string
	group      string
	ours       bool // the store registered as ours
	standIn    bool // the baseline standing in for ours
	baseline   bool
	notDurable string             // why not durable; "" if durable
	rates      map[string]float64 // workload -> ops/s, for workloads that succeeded
	errs       map[string]string  // workload -> error
	infos      []string
	extra      map[string]float64 // extra measurements
}

// takeRounds sets r's rate of each workload to the median of its rounds' rates, and
// returns a line giving the rounds' spread ("" when each workload ran once).
func (r *row) takeRounds(rounds map[string][]float64) string {
	var spread []string
	n := 0
	for _, wl := range allWorkloads {
		xs, ok := rounds[wl]
		if !ok || len(xs) == 0 {
			continue
		}
		n = max(n, len(xs))
		st := summarize(xs)
		r.rates[wl] = st.median
		if st.n > 1 {
			spread = append(spread, fmt.Sprintf("%s %s-%s", wl, fmtRate(st.min), fmtRate(st.max)))
		}
	}
	if len(spread) == 0 {
		return ""
	}
	return fmt.Sprintf("medians of %d rounds; lowest-highest: %s", n, strings.Join(spread, ", "))
}

func (r *row) rate(wl string) (float64, bool) {
	v, ok := r.rates[wl]
	return v, ok
}

// isPeer: compared against ours (everything but ours and its stand-in).
func (r *row) isPeer() bool { return !r.ours && !r.standIn }

// fmtRate formats ops/s as an integer with thousands separators: 12,345.
func fmtRate(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "n/a"
	}
	s := strconv.FormatInt(int64(math.Round(v)), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// ratio is v as a multiple of ref; 0 if ref is not positive.
func ratio(v, ref float64) float64 {
	if ref <= 0 {
		return 0
	}
	return v / ref
}

// fmtRatio formats v/ref as "2.35×".
func fmtRatio(v, ref float64) string {
	if ref <= 0 {
		return "n/a"
	}
	return strconv.FormatFloat(ratio(v, ref), 'f', 2, 64) + "×"
}

// cell is one table cell: "12,345 (2.64×)", "error", or "-" when not run.
func cell(r *row, wl string, fsync float64) string {
	if v, ok := r.rate(wl); ok {
		return fmtRate(v) + " (" + fmtRatio(v, fsync) + ")"
	}
	if _, failed := r.errs[wl]; failed {
		return "ERROR"
	}
	return "-"
}

// tableWorkloads are the table's columns, in order.
var tableWorkloads = []string{wlEnqueue1, wlEnqueueN, wlCycle, wlBacklog}

// renderTable writes the results table: one row per store, each rate with its ratio to
// fsync_per_s.
func renderTable(w io.Writer, rows []*row, fsync float64, producers int) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "store\t%s/s\t%s/s\t%s/s\t%s/s\tnotes\n", wlEnqueue1,
		fmt.Sprintf("enqueue_%d", producers), wlCycle, wlBacklog)
	for _, r := range rows {
		name := r.name
		var notes []string
		if r.standIn {
			name += " *"
			notes = append(notes, "* stand-in for ours (ours.go not registered)")
		}
		if r.notDurable != "" {
			notes = append(notes, "NOT DURABLE per op")
		}
		if r.note != "" {
			notes = append(notes, r.note)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", name,
			cell(r, wlEnqueue1, fsync), cell(r, wlEnqueueN, fsync), cell(r, wlCycle, fsync),
			cell(r, wlBacklog, fsync), strings.Join(notes, "; "))
	}
	tw.Flush()
}

// peerRates returns the JSON "peers" map (group -> best durable enqueue_64 of the group)
// and "peers_not_durable" (name -> rate and reason).
func peerRates(rows []*row) (map[string]float64, map[string]notDurableJSON) {
	peers := map[string]float64{}
	nd := map[string]notDurableJSON{}
	for _, r := range rows {
		if !r.isPeer() {
			continue
		}
		v, ok := r.rate(wlEnqueueN)
		if !ok {
			continue
		}
		if r.notDurable != "" {
			nd[r.name] = notDurableJSON{Enqueue64: round1(v), Why: r.notDurable}
			continue
		}
		if old, seen := peers[r.group]; !seen || v > old {
			peers[r.group] = round1(v)
		}
	}
	return peers, nd
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

// target is one PASS/FAIL check for ours.
type target struct {
	name   string
	pass   bool
	detail string
}

// checkTargets evaluates the product's targets on ours' row, as ratios.
func checkTargets(o *row, fsync float64, peers map[string]float64) []target {
	var out []target
	get := func(wl string) (float64, bool) { return o.rate(wl) }
	atLeast := func(name, wl string, k float64, refName string, ref float64, refOK bool) {
		v, ok := get(wl)
		switch {
		case !ok:
			out = append(out, target{name, false, wl + " not measured"})
		case !refOK || ref <= 0:
			out = append(out, target{name, false, refName + " not measured"})
		default:
			out = append(out, target{name, v >= k*ref, fmt.Sprintf("%s/s = %s/s (%s %s), need ≥ %.2f×",
				wl, fmtRate(v), fmtRatio(v, ref), refName, k)})
		}
	}
	atLeast("enqueue_64 ≥ 5.5× fsync", wlEnqueueN, 5.5, "fsync", fsync, true)

	atLeast("enqueue_1 ≥ 0.45× fsync", wlEnqueue1, 0.45, "fsync", fsync, true)
	e1, e1ok := get(wlEnqueue1)
	atLeast("enqueue_1_backlog ≥ 0.8× enqueue_1", wlBacklog, 0.8, "enqueue_1", e1, e1ok)
	if v, ok := o.extra["rss_anon_kb"]; ok {
		out = append(out, target{"RssAnon with a 10,000-record queue open and scanned < 30 MB", v < memoryTargetKB,
			fmt.Sprintf("RssAnon %.1f MB (file-backed RssFile %.1f MB, reclaimable)", v/1024, o.extra["rss_file_kb"]/1024)})
	}
	if v, ok := o.extra["idle_cpu_pct"]; ok {
		out = append(out, target{"idle CPU < 0.05 % of a core", v < idleCPUTargetPc,
			fmt.Sprintf("%.4f %% of a core while idle with the queue open", v)})
	}
	return out
}

func renderTargets(w io.Writer, ts []target, prefix string) {
	for _, t := range ts {
		verdict := "FAIL"
		if t.pass {
			verdict = "PASS"
		}
		fmt.Fprintf(w, "%s%s  %s: %s\n", prefix, verdict, t.name, t.detail)
	}
}

type notDurableJSON struct {
	Enqueue64 float64 `json:"enqueue_64_per_s"`
	Why       string  `json:"why"`
}

// summaryJSON is the last line of stdout. The five rates are ours' (or the stand-in's,
// then "ours_stand_in" names it); null when not measured.
type summaryJSON struct {
	Fsync           float64                   `json:"fsync_per_s"`
	Enqueue1        *float64                  `json:"enqueue_1_per_s"`
	Enqueue64       *float64                  `json:"enqueue_64_per_s"`
	Cycle           *float64                  `json:"cycle_per_s"`
	Enqueue1Backlog *float64                  `json:"enqueue_1_backlog_per_s"`
	Peers           map[string]float64        `json:"peers"`
	PeersNotDurable map[string]notDurableJSON `json:"peers_not_durable"`
	OursStandIn     string                    `json:"ours_stand_in,omitempty"`
}

// summaryLine renders the final JSON object on one line; extra keys (extra measurements)
// are appended at the top level, sorted.
func summaryLine(fsync float64, o *row, rows []*row, extra map[string]float64) (string, error) {
	s := summaryJSON{Fsync: round1(fsync)}
	s.Peers, s.PeersNotDurable = peerRates(rows)
	if o != nil {
		ptr := func(wl string) *float64 {
			if v, ok := o.rate(wl); ok {
				v = round1(v)
				return &v
			}
			return nil
		}
		s.Enqueue1, s.Enqueue64, s.Cycle, s.Enqueue1Backlog = ptr(wlEnqueue1), ptr(wlEnqueueN), ptr(wlCycle), ptr(wlBacklog)
		if o.standIn {
			s.OursStandIn = o.name
		}
	}
	b, err := json.Marshal(s)
	if err != nil {
		return "", err
	}
	if len(extra) > 0 {
		keys := make([]string, 0, len(extra))
		for k := range extra {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var buf bytes.Buffer
		buf.Write(b[:len(b)-1])
		for _, k := range keys {
			if _, clash := knownJSONKeys[k]; clash {
				return "", fmt.Errorf("extra measurement key %q clashes with a standard key", k)
			}
			kb, _ := json.Marshal(k)
			vb, err := json.Marshal(extra[k])
			if err != nil {
				return "", fmt.Errorf("extra measurement %s: %w", k, err)
			}
			buf.WriteByte(',')
			buf.Write(kb)
			buf.WriteByte(':')
			buf.Write(vb)
		}
		buf.WriteByte('}')
		b = buf.Bytes()
	}
	return string(b), nil
}

var knownJSONKeys = map[string]struct{}{
	"fsync_per_s": {}, "enqueue_1_per_s": {}, "enqueue_64_per_s": {}, "cycle_per_s": {},
	"enqueue_1_backlog_per_s": {}, "peers": {}, "peers_not_durable": {}, "ours_stand_in": {},
}

// stats summarises samples.
type stats struct {
	n                int
	min, median, max float64
}

func summarize(xs []float64) stats {
	if len(xs) == 0 {
		return stats{}
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return stats{n: len(s), min: s[0], median: med, max: s[len(s)-1]}
}
