//go:build !race

package distilbert

const raceEnabled = false
