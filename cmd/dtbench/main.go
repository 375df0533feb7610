// Command dtbench is `make bench`: it measures the ceilings and the bridge
// side by side and prints targets T1–T5. See pkg/bench and BENCHMARKS.md.
package main

import (
	"os"

	"github.com/dtbridge/dtbridge/pkg/bench"
)

func main() { os.Exit(bench.Main(os.Args[1:], os.Stdout, os.Stderr)) }
