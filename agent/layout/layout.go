// Package layout holds the test that guards the repository's import direction: the service
// side (agent/ and cmd/wbagentd) never links the UI toolkits, and cross-compiles without
// cgo to Windows and macOS. It has no code of its own.
package layout
