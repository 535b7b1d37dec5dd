// Command gen writes docs/statecharts (or the directory given as its only
// argument) from the machine specs: `make statecharts` runs it from the
// module root as `go run ./internal/charts/gen`.
package main

import (
	"fmt"
	"os"

	"github.com/replsm/replsm/internal/charts"
)

func main() {
	dir := charts.DocsDir
	switch len(os.Args) {
	case 1:
	case 2:
		dir = os.Args[1]
	default:
		fmt.Fprintln(os.Stderr, "usage: go run ./internal/charts/gen [DIR]")
		os.Exit(2)
	}
	if err := charts.Generate(dir); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
