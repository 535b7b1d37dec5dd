// Package benchkit is what the side-by-side bench programs (benchinterop,
// benchrecovery, benchfullsync, benchcobloop) share: their command line's
// parsing and exit codes, their interrupt handling, building the replsm
// binary they run, and the machine line of their reports.
//
// Exit codes are the same in every program: 0 every target met, 1 a target
// missed, 2 the run could not be carried out (bad flags included).
package benchkit

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
)

// Exit codes of a bench program.
const (
	ExitPass   = 0 // every target met (or -h)
	ExitMissed = 1 // a target missed
	ExitFailed = 2 // the run could not be carried out
)

// Parse parses args into fs, which takes no positional arguments. It
// returns ok=false and the code to exit with when the program should stop:
// ExitPass after -h, ExitFailed after a bad flag or an extra argument (said
// on stderr, named after fs).
func Parse(fs *flag.FlagSet, args []string, stderr io.Writer) (exit int, ok bool) {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitPass, false
		}
		return ExitFailed, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected arguments %q\n", fs.Name(), fs.Args())
		return ExitFailed, false
	}
	return 0, true
}

// Interruptible is the run's context: the first ctrl-C (or SIGTERM) ends
// the run cleanly, and after that the default action applies again.
func Interruptible() (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop)
	return ctx, stop
}

// BuildReplsm builds this module's cmd/replsm into out, with the go on
// PATH or else the one of the running toolchain.
func BuildReplsm(ctx context.Context, out string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	if b, err := exec.CommandContext(ctx, goBin, "build", "-o", out, "github.com/replsm/replsm/cmd/replsm").CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/replsm: %w\n%s", err, b)
	}
	return nil
}

// Machine describes where the run happened, for the report's header.
func Machine() string {
	return fmt.Sprintf("%s/%s, %d CPUs, GOMAXPROCS %d, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version())
}
