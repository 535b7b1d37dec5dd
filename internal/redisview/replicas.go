package redisview

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// ReplicaOutputBuffers returns the output buffer a primary holds for each
// of its replica connections, in bytes, keyed by the replica's address as
// the primary sees it: the omem field of CLIENT LIST TYPE replica (in Redis
// 7.0 the part of the shared replication buffer the replica has not read
// yet, which client-output-buffer-limit replica is checked against).
func ReplicaOutputBuffers(ctx context.Context, c *redis.Client) (map[string]int64, error) {
	text, err := c.Do(ctx, "CLIENT", "LIST", "TYPE", "replica").Text()
	if err != nil {
		return nil, fmt.Errorf("CLIENT LIST TYPE replica: %w", err)
	}
	out := map[string]int64{}
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		var addr string
		omem := int64(-1)
		for _, f := range strings.Fields(line) {
			k, v, _ := strings.Cut(f, "=")
			switch k {
			case "addr":
				addr = v
			case "omem":
				omem, err = strconv.ParseInt(v, 10, 64)
				if err != nil {
					return nil, fmt.Errorf("CLIENT LIST: omem %q: %w", v, err)
				}
			}
		}
		if addr != "" && omem >= 0 {
			out[addr] = omem
		}
	}
	return out, nil
}
