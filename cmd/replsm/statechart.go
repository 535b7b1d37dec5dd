package main

import (
	"context"
	"io"

	"github.com/replsm/replsm/internal/charts"
)

func init() {
	register("statechart", "draw a machine (Mermaid, DOT or SVG) from the specs the code runs", func(_ context.Context, args []string, stdout, stderr io.Writer) int {
		return charts.Run(args, stdout, stderr)
	})
}
