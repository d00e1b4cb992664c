package queue

// initialMmapSize is bbolt's default on Windows, where mapping a file grows it to the
// mapped size: a large first mapping would make a small queue's file that large.
const initialMmapSize = 0
