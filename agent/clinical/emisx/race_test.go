//go:build race

package emisx_test

// raceDetector is set when the tests run under the race detector, which makes decoding
// large JSON documents (the contract checks', the simulator's) many times slower.
const raceDetector = true
