package redistest

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// ReplicationInfo runs INFO replication through c and returns its
// "field:value" lines as a map (section headers and blank lines skipped),
// e.g. role, master_link_status, master_repl_offset, slave_repl_offset,
// master_replid. It returns [ErrMalformedInfo] when the reply holds no field.
func ReplicationInfo(ctx context.Context, c *redis.Client) (map[string]string, error) {
	text, err := c.Info(ctx, "replication").Result()
	if err != nil {
		return nil, fmt.Errorf("INFO replication: %w", err)
	}
	return ParseInfo(text)
}

// ParseInfo parses the text of an INFO reply into its "field:value" pairs.
// It returns [ErrMalformedInfo] when the text holds no such pair.
func ParseInfo(text string) (map[string]string, error) {
	out := make(map[string]string)
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		out[k] = v
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %q", ErrMalformedInfo, truncate(text, 200))
	}
	return out, nil
}

// WaitReplicaUp polls INFO replication on the replica c until it reports
// role:slave and master_link_status:up. It is bounded by ctx's deadline, or
// by [DefaultWaitTimeout] when ctx has none; on timeout the error wraps
// [ErrTimeout] and the last status seen.
func WaitReplicaUp(ctx context.Context, c *redis.Client) error {
	return Eventually(ctx, 0, func(ctx context.Context) error {
		info, err := ReplicationInfo(ctx, c)
		if err != nil {
			return err
		}
		if info["role"] != "slave" || info["master_link_status"] != "up" {
			return fmt.Errorf("role=%q master_link_status=%q master_sync_in_progress=%q",
				info["role"], info["master_link_status"], info["master_sync_in_progress"])
		}
		return nil
	})
}

// WaitCaughtUp polls until the replica's slave_repl_offset has reached the
// primary's master_repl_offset read just before it (so every write made
// before the call has been applied by the replica), with the replica's link
// up. Bounded like [WaitReplicaUp]; on timeout the error wraps [ErrTimeout]
// and the last offsets seen.
func WaitCaughtUp(ctx context.Context, primary, replica *redis.Client) error {
	return Eventually(ctx, 0, func(ctx context.Context) error {
		p, err := ReplicationInfo(ctx, primary)
		if err != nil {
			return fmt.Errorf("primary: %w", err)
		}
		r, err := ReplicationInfo(ctx, replica)
		if err != nil {
			return fmt.Errorf("replica: %w", err)
		}
		want, err := strconv.ParseInt(p["master_repl_offset"], 10, 64)
		if err != nil {
			return fmt.Errorf("primary master_repl_offset %q: %w", p["master_repl_offset"], err)
		}
		got, err := strconv.ParseInt(r["slave_repl_offset"], 10, 64)
		if err != nil {
			return fmt.Errorf("replica slave_repl_offset %q: %w", r["slave_repl_offset"], err)
		}
		if r["master_link_status"] != "up" || got < want {
			return fmt.Errorf("replica link %q at offset %d, primary at %d",
				r["master_link_status"], got, want)
		}
		return nil
	})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
