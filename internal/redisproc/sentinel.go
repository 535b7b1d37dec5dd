package redisproc

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"
)

// Sentinel defaults ([SentinelOptions]): small enough that a test's
// failover takes seconds, not minutes.
const (
	DefaultDownAfter       = 1500 * time.Millisecond
	DefaultFailoverTimeout = 10 * time.Second
)

// SentinelOptions configure [StartSentinel].
type SentinelOptions struct {
	// Dir holds the sentinel's config file (a new sentinel-*.conf, which
	// the sentinel rewrites as it learns) and its log. Required.
	Dir string

	// Master is the name the sentinel monitors the primary under, and
	// MasterPort the primary's port on 127.0.0.1. Required.
	Master     string
	MasterPort int

	// Quorum is how many sentinels must agree the primary is down; 0
	// means 2.
	Quorum int

	// DownAfter is down-after-milliseconds; 0 means [DefaultDownAfter].
	DownAfter time.Duration

	// FailoverTimeout is failover-timeout; 0 means
	// [DefaultFailoverTimeout].
	FailoverTimeout time.Duration

	// Server is passed to [Start] for Port, Binary, Clock, StartTimeout,
	// StopGrace, Name (default "redis-sentinel") and Args (appended after
	// --sentinel); its Dir and ConfigFile are set from the fields above.
	Server Options
}

// StartSentinel launches a real Redis Sentinel (redis-server <conf>
// --sentinel) on 127.0.0.1 monitoring the primary 127.0.0.1:MasterPort
// under Master, and returns it once it answers PING. Its config file is
//
//	sentinel resolve-hostnames no
//	sentinel monitor <Master> 127.0.0.1 <MasterPort> <Quorum>
//	sentinel down-after-milliseconds <Master> <DownAfter>
//	sentinel failover-timeout <Master> <FailoverTimeout>
//	sentinel parallel-syncs <Master> 1
//
// Sentinels of one primary find each other through it (the hello channel),
// so a test starts each with the same Master and MasterPort. Errors as for
// [Start], and [ErrInvalidArgument] without Dir, Master or MasterPort.
func StartSentinel(ctx context.Context, opts SentinelOptions) (*Server, error) {
	if opts.Dir == "" || opts.Master == "" || opts.MasterPort <= 0 || opts.MasterPort > 65535 ||
		strings.ContainsAny(opts.Master, " \t\r\n\"'") {
		return nil, fmt.Errorf("start sentinel: %w: need Dir, a Master name without spaces or quotes and a MasterPort (got %q, %q, %d)",
			ErrInvalidArgument, opts.Dir, opts.Master, opts.MasterPort)
	}
	if opts.Quorum <= 0 {
		opts.Quorum = 2
	}
	if opts.DownAfter <= 0 {
		opts.DownAfter = DefaultDownAfter
	}
	if opts.FailoverTimeout <= 0 {
		opts.FailoverTimeout = DefaultFailoverTimeout
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("start sentinel: %w", err)
	}
	f, err := os.CreateTemp(opts.Dir, "sentinel-*.conf")
	if err != nil {
		return nil, fmt.Errorf("start sentinel: %w", err)
	}
	m := opts.Master
	conf := strings.Join([]string{
		"sentinel resolve-hostnames no",
		fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d %d", m, opts.MasterPort, opts.Quorum),
		fmt.Sprintf("sentinel down-after-milliseconds %s %d", m, opts.DownAfter.Milliseconds()),
		fmt.Sprintf("sentinel failover-timeout %s %d", m, opts.FailoverTimeout.Milliseconds()),
		fmt.Sprintf("sentinel parallel-syncs %s 1", m),
		"",
	}, "\n")
	_, werr := f.WriteString(conf)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, fmt.Errorf("start sentinel: write %s: %w", f.Name(), werr)
	}
	o := opts.Server
	o.Dir, o.ConfigFile = opts.Dir, f.Name()
	if o.Name == "" {
		o.Name = "redis-sentinel"
	}
	o.Args = append([]string{"--sentinel"}, o.Args...)
	return Start(ctx, o)
}
