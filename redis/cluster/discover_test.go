package cluster_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/replsm/replsm/internal/redistest"
	"github.com/replsm/replsm/redis/cluster"
)

func TestDiscoverRealCluster(t *testing.T) {
	c := redistest.StartCluster(t, redistest.ClusterOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	_ = dead.Close()

	// Every node agrees; a seed that does not answer is skipped.
	m, err := cluster.Discover(ctx, append([]string{deadAddr}, strings.Split(c.Seeds(), ",")...), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Shards) != 3 {
		t.Fatalf("map = %s", m)
	}
	for _, s := range m.Shards {
		if len(s.Nodes) != 2 || c.Node(s.Master) == nil {
			t.Fatalf("shard %+v: want its master and one replica, on a node of the cluster", s)
		}
	}

	if _, err := cluster.Discover(ctx, []string{deadAddr}, time.Second); !errors.Is(err, cluster.ErrUnreachable) {
		t.Fatalf("no seed answering: %v", err)
	}
	plain := redistest.Start(t, redistest.Options{})
	if _, err := cluster.Discover(ctx, []string{plain.Addr()}, time.Second); !errors.Is(err, cluster.ErrNotCluster) {
		t.Fatalf("a node without cluster mode: %v", err)
	}
}
