package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/benbjohnson/clock"

	"github.com/replsm/replsm/redis/cluster"
	"github.com/replsm/replsm/redis/replica"
)

// followCluster discovers the cluster behind seeds (comma-separated
// HOST:PORT), fills cfg with one shard per master and the follower's
// observer, and returns the Follower to run once the replica started. It
// retries discovery until ctx ends (docs/cluster.md).
func followCluster(ctx context.Context, seeds string, cfg *replica.Config, log *slog.Logger) (*cluster.Follower, error) {
	var list []string
	for s := range strings.SplitSeq(seeds, ",") {
		if s = strings.TrimSpace(s); s != "" {
			list = append(list, s)
		}
	}
	f, err := cluster.NewFollower(cluster.Config{Seeds: list, Logger: log, Seed: cfg.Seed}, clock.New())
	if err != nil {
		return nil, err
	}
	shards, err := f.Bootstrap(ctx)
	if err != nil {
		return nil, fmt.Errorf("--cluster %s: %w", seeds, err)
	}
	cfg.Shards = shards
	cfg.Observers = append(cfg.Observers, f.SlotObserver())
	return f, nil
}

// runFollower keeps r following the cluster until ctx ends (the command's:
// it stops with the replica) or the returned stop is called.
func runFollower(ctx context.Context, f *cluster.Follower, r *replica.Replica) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); f.Run(ctx, r) }()
	return func() { cancel(); <-done }
}
