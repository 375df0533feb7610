package bridgetest

import (
	"fmt"
	"os"
	"testing"
)

// MainWithBinary is a TestMain body for packages that run the real binary:
// it builds dtbridge into a temporary directory, stores its path in
// *binary, runs the tests and removes the directory. It returns the exit
// code: func TestMain(m *testing.M) { os.Exit(bridgetest.MainWithBinary(m, &binary)) }.
func MainWithBinary(m *testing.M, binary *string) int {
	dir, err := os.MkdirTemp("", "dtbridge-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bridgetest: mkdtemp:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	if *binary, err = BuildBinary(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}
