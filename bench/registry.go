package main

import (
	"fmt"
	"sort"
	"strings"
)

// oursName is the registry name of the product's queue. bench/ours.go registers it:
//
//	func init() { register(oursName, openOurs) }
//
// The store registered under this name gets the target checks, the enqueue_1_backlog
// workload and the five top-level JSON keys. Until it exists the baseline stands in.
const oursName = "ours"

// entry is one registered store.
type entry struct {
	name         string
	factory      Factory
	order        int    // table order: ours first, then baseline, then peers by name
	baseline     bool   // reference row; stands in for ours while ours is not registered
	group        string // JSON "peers" key; the best row of a group is reported (sqlite modes)
	notDurable   string // non-empty: Enqueue may return before fsync; the reason
	note         string // short remark shown in the table
	backlog      bool   // also run enqueue_1_backlog (always true for ours / its stand-in)
	measurements []Measurement
}

// Option configures a registered store.
type Option func(*entry)

// baseline marks the reference row that stands in for ours until ours.go registers.
func baseline() Option { return func(e *entry) { e.baseline = true } }

// inGroup reports this row under the JSON "peers" key g, keeping the best of the group.
func inGroup(g string) Option { return func(e *entry) { e.group = g } }

// notDurable says why Enqueue cannot be made to return only after fsync. Such a store is
// reported under "peers_not_durable" and is not a competitor in the target checks.
func notDurable(why string) Option { return func(e *entry) { e.notDurable = why } }

// withNote adds a short remark to the store's row.
func withNote(s string) Option { return func(e *entry) { e.note = s } }

// withBacklog runs enqueue_1_backlog for this store too (ours always runs it).
func withBacklog() Option { return func(e *entry) { e.backlog = true } }

// withMeasurement attaches an extra measurement (see extras.go), e.g. memory or idle CPU.
func withMeasurement(m Measurement) Option {
	return func(e *entry) { e.measurements = append(e.measurements, m) }
}

var registry = map[string]*entry{}

// register adds a store; call it from an init function. It panics on a duplicate name.
func register(name string, f Factory, opts ...Option) {
	if _, dup := registry[name]; dup {
		panic("bench: store registered twice: " + name)
	}
	e := &entry{name: name, factory: f, group: name}
	for _, o := range opts {
		o(e)
	}
	switch {
	case name == oursName:
		e.order, e.backlog = 0, true
	case e.baseline:
		e.order = 1
	default:
		e.order = 2
	}
	registry[name] = e
}

// ours returns the entry whose numbers fill the top-level JSON keys: ours if registered,
// otherwise the baseline stand-in (standIn=true), or nil if neither is registered.
func ours() (e *entry, standIn bool) {
	if e := registry[oursName]; e != nil {
		return e, false
	}
	for _, e := range sortedEntries() {
		if e.baseline {
			return e, true
		}
	}
	return nil, false
}

func sortedEntries() []*entry {
	out := make([]*entry, 0, len(registry))
	for _, e := range registry {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].order != out[j].order {
			return out[i].order < out[j].order
		}
		return out[i].name < out[j].name
	})
	return out
}

// selectEntries applies -only: a comma-separated list of store or group names. Empty
// selects everything.
func selectEntries(only string) ([]*entry, error) {
	all := sortedEntries()
	if strings.TrimSpace(only) == "" {
		return all, nil
	}
	want := map[string]bool{}
	for _, n := range splitList(only) {
		want[n] = false
	}
	var out []*entry
	for _, e := range all {
		_, byName := want[e.name]
		_, byGroup := want[e.group]
		if byName || byGroup {
			out = append(out, e)
			want[e.name], want[e.group] = true, true
		}
	}
	var unknown []string
	for n, used := range want {
		if !used {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		var names []string
		for _, e := range all {
			names = append(names, e.name)
		}
		return nil, fmt.Errorf("-only: unknown store(s) %s (registered: %s)",
			strings.Join(unknown, ","), strings.Join(names, ","))
	}
	return out, nil
}

// splitList splits a comma-separated flag value, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, n := range strings.Split(s, ",") {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}
