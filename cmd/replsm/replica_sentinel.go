package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/replsm/replsm/redis/replica"
	"github.com/replsm/replsm/slot"
)

// sentinelPrefix marks a --shard that follows a Sentinel-monitored name:
// --shard 0=sentinel:mymaster.
const sentinelPrefix = "sentinel:"

// sentinelShards takes the --shard ID=sentinel:NAME entries out of shards
// into a SentinelConfig (nil when there are none), checking --sentinel
// goes with them.
func sentinelShards(shards shardFlags, sentinels string) (*replica.SentinelConfig, error) {
	masters := map[slot.ID]string{}
	for id, v := range shards {
		if name, ok := strings.CutPrefix(v, sentinelPrefix); ok {
			if name == "" || strings.ContainsAny(name, " \t\r\n") {
				return nil, fmt.Errorf("--shard %d=%s: want %sNAME with a non-empty name without spaces", id, v, sentinelPrefix)
			}
			masters[id] = name
		}
	}
	var addrs []string
	for _, a := range strings.Split(sentinels, ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	switch {
	case len(masters) == 0 && len(addrs) == 0:
		return nil, nil
	case len(masters) == 0:
		return nil, fmt.Errorf("--sentinel given but no --shard ID=%sNAME follows it", sentinelPrefix)
	case len(addrs) == 0:
		return nil, fmt.Errorf("--shard ID=%sNAME needs --sentinel HOST:PORT[,HOST:PORT...]", sentinelPrefix)
	}
	for _, a := range addrs {
		if err := checkListen(a); err != nil {
			return nil, fmt.Errorf("--sentinel %s: %v", a, err)
		}
	}
	return &replica.SentinelConfig{Sentinels: addrs, Masters: masters}, nil
}

// resolveSentinelShards asks the sentinels for every name's primary and
// puts the answers in shards, asking again with a backoff (1 s doubling
// to 30 s, logged) while none answers, until ctx ends (false).
func resolveSentinelShards(ctx context.Context, shards shardFlags, sc *replica.SentinelConfig, log *slog.Logger) bool {
	clk := clock.New()
	wait := time.Second
	for {
		addrs, err := replica.ResolveSentinelShards(ctx, clk, sc.Sentinels, sc.Masters, 2*time.Second)
		if err == nil {
			for id, a := range addrs {
				shards[id] = a
				log.Info("sentinels name the shard's primary", slog.Int("id", int(id)), slog.String("master", sc.Masters[id]), slog.String("primary", a))
			}
			return true
		}
		log.Warn("no sentinel named a primary yet; asking again", slog.String("err", err.Error()), slog.Duration("retry_in", wait))
		select {
		case <-ctx.Done():
			return false
		case <-clk.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
}
