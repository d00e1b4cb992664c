package condition

import (
	"slices"
	"sync"
)

// Board holds the conditions reported by the parts of the service that watch something
// (the filing engine, the integration watcher): each part replaces its own list whenever
// what it knows changes. It is safe for concurrent use.
type Board struct {
	mu       sync.Mutex
	bySource map[string][]Condition
	onChange func()
}

// NewBoard returns an empty board. onChange, if not nil, is called after every change that
// alters what All returns; it must not block.
func NewBoard(onChange func()) *Board {
	return &Board{bySource: map[string][]Condition{}, onChange: onChange}
}

// Set replaces the conditions reported by source (nil or empty clears them).
func (b *Board) Set(source string, conds []Condition) {
	b.mu.Lock()
	old := b.bySource[source]
	if len(conds) == 0 {
		delete(b.bySource, source)
	} else {
		b.bySource[source] = slices.Clone(conds)
	}
	changed := !slices.Equal(old, conds)
	b.mu.Unlock()
	if changed && b.onChange != nil {
		b.onChange()
	}
}

// All returns every source's conditions, sorted (see Sort).
func (b *Board) All() []Condition {
	b.mu.Lock()
	var all []Condition
	for _, conds := range b.bySource {
		all = append(all, conds...)
	}
	b.mu.Unlock()
	Sort(all)
	return all
}
