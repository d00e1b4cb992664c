// Package source is the agent's link to the online consultation platform
// (docs/platform-api.md, contract platform/v1): it pulls the practice's writebacks page by
// page, queues each page durably in one transaction, acknowledges the page only then
// (at-least-once delivery, deduplicated by the queue on the job id), and reports each
// writeback's outcome (filed, rejected, needs attention, cancelled, invalid) back, once,
// remembering what it reported in the data folder so that restarts do not repeat it.
//
// It rides out platform outages with back-off and jitter: nothing is acknowledged before it
// is queued, and outcomes wait until the platform takes them. The enrolment credential is
// kept sealed with the data key in the data folder (CredentialFile, written by `wbagentd
// enrol`; one still in config.toml is moved there at start), sent only in the Authorization
// header, and never logged or put in an error.
package source
