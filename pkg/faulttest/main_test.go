package faulttest

import (
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/dtbridge/dtbridge/pkg/bridgetest"
)

// binary is the dtbridge executable, built once by TestMain.
var binary string

func TestMain(m *testing.M) { os.Exit(bridgetest.MainWithBinary(m, &binary)) }

// soak reports whether the long variants were asked for (DTBRIDGE_SOAK=1,
// `make soak`).
func soak() bool { return os.Getenv("DTBRIDGE_SOAK") == "1" }

// size returns short in `make test` and long under DTBRIDGE_SOAK=1.
func size(short, long int) int {
	if soak() {
		return long
	}
	return short
}

// seeded returns a random source for fault timing. The seed is logged; set
// DTBRIDGE_SEED to replay a run.
func seeded(t *testing.T) *rand.Rand {
	t.Helper()
	seed := rand.Uint64()
	if s := os.Getenv("DTBRIDGE_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("DTBRIDGE_SEED: %v", err)
		}
		seed = v
	}
	t.Logf("fault seed %d (DTBRIDGE_SEED=%d replays it)", seed, seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}
