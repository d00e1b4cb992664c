//go:build race

package sim_test

// raceDetector slows everything down several times over; timing budgets
// allow for it.
const raceDetector = true
