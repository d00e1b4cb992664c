//go:build !windows

package queue

// initialMmapSize is the size bbolt maps the database file with from the start. Mapping
// reserves address space only (the file is not grown), and it spares the writer remapping
// as the file grows: each remap (at every doubling up to 1 GiB) stops readers and copies
// every key and value of the open write transaction out of the old mapping (measured: a
// fifth of all bytes allocated in enqueue_64).
const initialMmapSize = 1 << 30
