//go:build race

package normalize

// raceEnabled: the race detector changes what allocates (it keeps the
// compiler from folding append(b, make(...)...) in the standard library).
const raceEnabled = true
