package redistest

import (
	"context"
	"testing"
	"time"
)

func TestStartCluster(t *testing.T) {
	c := StartCluster(t, ClusterOptions{})
	if got := len(c.Masters()); got != 3 {
		t.Fatalf("masters = %d, want 3", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := c.Client()
	for _, k := range []string{"a", "b", "c", "{x}1", "{x}2"} {
		if err := cl.Set(ctx, k, k, 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
	}
	for _, m := range c.Masters() {
		if c.ReplicaOf(m.Addr()) == nil {
			t.Fatalf("master %s has no replica", m.Addr())
		}
	}
}
