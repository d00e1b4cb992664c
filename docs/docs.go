// Package docs holds the published contract documents of Writeback Agent, embedded so that
// the agent validates against exactly the files that platforms are given:
//
//   - writeback.schema.json, the JSON Schema (draft 2020-12) of a "writeback/v1" document;
//   - examples/writeback.json, a complete, valid example document.
//
// These files are the only copies in the repository; code that needs them imports this
// package rather than duplicating them.
package docs

import _ "embed"

// WritebackSchema is the JSON Schema of a "writeback/v1" document (docs/writeback.schema.json).
//
//go:embed writeback.schema.json
var WritebackSchema []byte

// ExampleWriteback is a valid "writeback/v1" document (docs/examples/writeback.json).
//
//go:embed examples/writeback.json
var ExampleWriteback []byte
