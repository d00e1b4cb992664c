// Package watch is the integration watcher: for the practice and for each clinician who has
// linked their clinical-system account on this PC, it keeps a current picture of whether
// filing can work, and turns what stands in the way into conditions (package condition) on
// the service's board, each with a stable code, a severity, who fixes it, a one-line title
// and the exact steps.
//
// What it watches:
//   - a probe of each linked clinician's integration (clinical.System.Probe), on a schedule:
//     rarely while it passes, with back-off and jitter while it fails;
//   - the filing engine's per-author health (filer.Engine.Authors): an author paused by a
//     filing error of an access type is probed at once, and a role that cannot file (which
//     only filing shows) is remembered until one of their filings succeeds;
//   - the link store (links made, mended, removed, or moved to another clinical user).
//
// It sleeps between probes on one timer and the bus (package bus): it never polls. Every
// condition clears by itself once its cause is put right. Conditions name clinicians (staff),
// never patients: they carry codes, counts and staff names only.
//
// The conditions the service knows by itself (no clinician linked, a clinician must link
// again, writebacks waiting for confirmation or needing attention) are package status's; the
// watcher adds the integration's.
package watch
