//go:build race

package distilbert

// raceEnabled: the race detector slows the generic float loops ~15×, so
// race builds check a deterministic subset of the large golden sets; the
// plain build (also run by make test) checks every case.
const raceEnabled = true
