package charts

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/replsm/replsm/fsm"
)

// Formats accepted by `replsm statechart --format`.
var Formats = []string{"mermaid", "dot", "svg"}

// Snapshot is the --live file of `replsm statechart`: a live view of one
// machine (Current) or of a set of machines (Counts), or both. State names
// in the composite chart are paths: "Connected/WaitReply". Unknown fields
// are rejected, so that a typo does not silently draw a plain chart.
//
//	{"machine": "slot", "current": "WaitReply"}
//	{"machine": "composite", "current": "Connected", "counts": {"Connected/Connected": 14, "Connected/Error": 2}}
type Snapshot struct {
	// Machine, when set, must match --machine: it catches a snapshot of
	// one machine drawn over another's chart.
	Machine string `json:"machine,omitempty"`
	fsm.Overlay
}

// ReadSnapshot parses a Snapshot from JSON.
func ReadSnapshot(r io.Reader) (Snapshot, error) {
	var s Snapshot
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Snapshot{}, err
	}
	if dec.More() {
		return Snapshot{}, errors.New("more than one JSON value")
	}
	return s, nil
}

const usage = `usage: replsm statechart --machine MACHINE [--format FORMAT] [--out FILE] [--live SNAPSHOT.json] [--notes]

Draws one of replsm's state machines from the spec the code runs.

  --machine  instance | slot | follower | composite (instance with slot nested in Connected)
  --format   mermaid (default) | dot | svg (svg runs Graphviz's dot)
  --out      write to FILE instead of standard output
  --live     overlay a snapshot: {"machine": "slot", "current": "WaitReply", "counts": {"Error": 2}}
             (current: one machine's state, highlighted; counts: machines per state, drawn "Error ×2";
             composite charts name nested states "Connected/WaitReply")
  --notes    mermaid only: draw state docs as notes (wider picture)

Exit status: 0 drawn, 1 drawing or writing failed, 2 bad command line or snapshot.
`

// Run implements `replsm statechart` with args after the subcommand name.
// It returns the process exit code: 0 on success, 2 for a bad command line
// (unknown machine, format or flag) or a bad snapshot, 1 when rendering or
// writing fails. Messages go to stderr.
func Run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("statechart", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported below, once, with the usage
	machine := fs.String("machine", "", "")
	format := fs.String("format", "mermaid", "")
	out := fs.String("out", "", "")
	live := fs.String("live", "", "")
	notes := fs.Bool("notes", false, "")
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "replsm statechart: "+format+"\n\n", a...)
		io.WriteString(stderr, usage)
		return 2
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			io.WriteString(stdout, usage)
			return 0
		}
		return bad("%v", err)
	}
	if fs.NArg() > 0 {
		return bad("unexpected argument %q", fs.Arg(0))
	}
	if *machine == "" {
		return bad("--machine is required (one of %s)", strings.Join(Names(), ", "))
	}
	if !slices.Contains(Names(), *machine) {
		return bad("unknown machine %q (want one of %s)", *machine, strings.Join(Names(), ", "))
	}
	if !slices.Contains(Formats, *format) {
		return bad("unknown format %q (want one of %s)", *format, strings.Join(Formats, ", "))
	}
	if *notes && *format != "mermaid" {
		return bad("--notes applies to --format mermaid only")
	}
	chart, err := Get(*machine)
	if err != nil {
		fmt.Fprintf(stderr, "replsm statechart: %v\n", err)
		return 1
	}

	var overlay fsm.Overlay
	if *live != "" {
		snap, err := readSnapshotFile(*live)
		if err != nil {
			return bad("--live %s: %v", *live, err)
		}
		if snap.Machine != "" && snap.Machine != *machine {
			return bad("--live %s is a snapshot of %q, not %q", *live, snap.Machine, *machine)
		}
		if err := chart.CheckOverlay(snap.Overlay); err != nil {
			return bad("--live %s: %v", *live, err)
		}
		overlay = snap.Overlay
	}

	var data []byte
	switch *format {
	case "mermaid":
		if *notes {
			data = fsm.MermaidWithNotes(chart, overlay)
		} else {
			data = fsm.Mermaid(chart, overlay)
		}
	case "dot":
		data = fsm.DOT(chart, overlay)
	case "svg":
		if data, err = RenderSVG(fsm.DOT(chart, overlay)); err != nil {
			fmt.Fprintf(stderr, "replsm statechart: %v\n", err)
			return 1
		}
	}

	if *out == "" {
		if _, err := io.Copy(stdout, bytes.NewReader(data)); err != nil {
			fmt.Fprintf(stderr, "replsm statechart: %v\n", err)
			return 1
		}
		return 0
	}
	if err := os.WriteFile(*out, data, 0o644); err != nil {
		fmt.Fprintf(stderr, "replsm statechart: %v\n", err)
		return 1
	}
	return 0
}

func readSnapshotFile(path string) (Snapshot, error) {
	f, err := os.Open(path)
	if err != nil {
		return Snapshot{}, err
	}
	defer f.Close()
	return ReadSnapshot(f)
}
