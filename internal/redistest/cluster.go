package redistest

import (
	"context"
	"fmt"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ClusterOptions configure [StartCluster]. The zero value is 3 masters with
// one replica each and a 1 s cluster-node-timeout.
type ClusterOptions struct {
	// Masters is the number of masters (0 means 3); each gets Replicas
	// replicas (0 means 1; -1 means none).
	Masters, Replicas int
	// NodeTimeout is cluster-node-timeout: how long a node may be
	// unreachable before its master is failed over. 0 means 1 s.
	NodeTimeout time.Duration
	// Args are extra redis-server arguments of every node.
	Args []string
	// Timeout bounds the creation and the wait for cluster_state:ok; 0
	// means 60 s.
	Timeout time.Duration
}

// Cluster is a real Redis Cluster on loopback, built by [StartCluster]:
// redis-server processes with cluster-enabled yes, joined with
// `redis-cli --cluster create`. The test's cleanup stops every node.
type Cluster struct {
	t     testing.TB
	Nodes []*Server // every node started, masters and replicas, in start order
	opts  ClusterOptions
}

// ClusterArgs are the redis-server arguments of a cluster node.
func ClusterArgs(nodeTimeout time.Duration) []string {
	return []string{
		"--cluster-enabled", "yes",
		"--cluster-config-file", "nodes.conf",
		"--cluster-node-timeout", strconv.FormatInt(nodeTimeout.Milliseconds(), 10),
		// A replica that lost its master a while ago may still be promoted:
		// the tests kill masters on purpose.
		"--cluster-replica-validity-factor", "0",
	}
}

// StartCluster starts Masters*(1+Replicas) nodes (each in its own
// t.TempDir()), creates the cluster with `redis-cli --cluster create
// ... --cluster-replicas N --cluster-yes` and waits until every node says
// cluster_state:ok. It fails the test when that does not happen within
// opts.Timeout.
func StartCluster(t testing.TB, opts ClusterOptions) *Cluster {
	t.Helper()
	if opts.Masters == 0 {
		opts.Masters = 3
	}
	switch opts.Replicas {
	case 0:
		opts.Replicas = 1
	case -1:
		opts.Replicas = 0
	}
	if opts.NodeTimeout == 0 {
		opts.NodeTimeout = time.Second
	}
	if opts.Timeout == 0 {
		opts.Timeout = 60 * time.Second
	}
	c := &Cluster{t: t, opts: opts}
	n := opts.Masters * (1 + opts.Replicas)
	addrs := make([]string, n)
	for i := range n {
		s := c.StartNode()
		addrs[i] = s.Addr()
	}
	ctx, cancel := context.WithTimeout(context.Background(), opts.Timeout)
	defer cancel()
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", strconv.Itoa(opts.Replicas), "--cluster-yes")
	if out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redistest: redis-cli %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	c.WaitOK()
	// cluster_state:ok comes before every node has heard who replicates
	// whom; tests pick a master's replica from any node's view.
	RequireEventually(t, opts.Timeout, "every node knows every master's replicas", func(ctx context.Context) error {
		for _, s := range c.Nodes {
			nodes, err := ClusterNodes(ctx, s.Client())
			if err != nil {
				return fmt.Errorf("%s: %w", s.Addr(), err)
			}
			for _, m := range nodes {
				if !m.Master {
					continue
				}
				n := 0
				for _, r := range nodes {
					if r.MasterID == m.ID {
						n++
					}
				}
				if n < opts.Replicas {
					return fmt.Errorf("%s sees %d replicas of master %s", s.Addr(), n, m.Addr)
				}
			}
		}
		return nil
	})
	return c
}

// StartNode starts one more empty cluster node (not yet part of the
// cluster), e.g. for `redis-cli --cluster add-node`.
func (c *Cluster) StartNode() *Server {
	c.t.Helper()
	s := Start(c.t, Options{
		Name: fmt.Sprintf("cluster-node-%d", len(c.Nodes)),
		Args: append(ClusterArgs(c.opts.NodeTimeout), c.opts.Args...),
	})
	c.Nodes = append(c.Nodes, s)
	return s
}

// Seeds is the address of every node, comma-separated (for --cluster).
func (c *Cluster) Seeds() string {
	addrs := make([]string, len(c.Nodes))
	for i, s := range c.Nodes {
		addrs[i] = s.Addr()
	}
	return strings.Join(addrs, ",")
}

// CLI runs redis-cli with args (bounded by the cluster's Timeout) and fails
// the test when it fails; it returns the output.
func (c *Cluster) CLI(args ...string) string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.Timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput()
	if err != nil {
		c.t.Fatalf("redistest: redis-cli %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// WaitOK waits until every running node says cluster_state:ok and agrees
// on which nodes are masters with slots.
func (c *Cluster) WaitOK() {
	c.t.Helper()
	RequireEventually(c.t, c.opts.Timeout, "cluster_state:ok on every node", func(ctx context.Context) error {
		var want string
		for _, s := range c.Nodes {
			if !s.Running() {
				continue
			}
			cl := NewClient(s.Addr(), 0)
			info, err := cl.ClusterInfo(ctx).Result()
			if err != nil {
				_ = cl.Close()
				return fmt.Errorf("%s: %w", s.Addr(), err)
			}
			if !strings.Contains(info, "cluster_state:ok") {
				_ = cl.Close()
				return fmt.Errorf("%s: cluster_state is not ok", s.Addr())
			}
			ms, err := mastersView(ctx, cl)
			_ = cl.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", s.Addr(), err)
			}
			if want == "" {
				want = ms
			} else if ms != want {
				return fmt.Errorf("%s sees masters %s, another node %s", s.Addr(), ms, want)
			}
		}
		return nil
	})
}

// mastersView is the sorted list of masters with slots a node sees.
func mastersView(ctx context.Context, cl *redis.Client) (string, error) {
	nodes, err := ClusterNodes(ctx, cl)
	if err != nil {
		return "", err
	}
	var ms []string
	for _, n := range nodes {
		if n.Master && !n.Failed && n.Slots != "" {
			ms = append(ms, n.Addr+"="+n.Slots)
		}
	}
	sort.Strings(ms)
	return strings.Join(ms, ","), nil
}

// ClusterNode is one line of CLUSTER NODES.
type ClusterNode struct {
	ID, Addr string
	Master   bool
	Failed   bool
	MasterID string // of a replica
	Slots    string // the slot ranges, space-separated, of a master
}

// ClusterNodes parses CLUSTER NODES as the node behind cl sees it.
func ClusterNodes(ctx context.Context, cl *redis.Client) ([]ClusterNode, error) {
	text, err := cl.ClusterNodes(ctx).Result()
	if err != nil {
		return nil, err
	}
	var out []ClusterNode
	for line := range strings.SplitSeq(strings.TrimSpace(text), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			return nil, fmt.Errorf("CLUSTER NODES line %q: too few fields", line)
		}
		addr, _, _ := strings.Cut(f[1], "@")
		n := ClusterNode{
			ID: f[0], Addr: addr,
			Master: strings.Contains(f[2], "master"),
			Failed: strings.Contains(f[2], "fail"),
			Slots:  strings.Join(f[8:], " "),
		}
		if f[3] != "-" {
			n.MasterID = f[3]
		}
		out = append(out, n)
	}
	return out, nil
}

// Node returns the started node listening on addr, or nil.
func (c *Cluster) Node(addr string) *Server {
	for _, s := range c.Nodes {
		if s.Addr() == addr {
			return s
		}
	}
	return nil
}

// Topology is CLUSTER NODES as seen by the first running node.
func (c *Cluster) Topology() []ClusterNode {
	c.t.Helper()
	for _, s := range c.Nodes {
		if !s.Running() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		nodes, err := ClusterNodes(ctx, s.Client())
		cancel()
		if err == nil {
			return nodes
		}
	}
	c.t.Fatalf("redistest: no running cluster node answers CLUSTER NODES")
	return nil
}

// ReplicaOf returns a running replica of the master at addr, or nil.
func (c *Cluster) ReplicaOf(addr string) *Server {
	c.t.Helper()
	nodes := c.Topology()
	var id string
	for _, n := range nodes {
		if n.Addr == addr {
			id = n.ID
		}
	}
	for _, n := range nodes {
		if n.MasterID == id && !n.Failed {
			if s := c.Node(n.Addr); s != nil && s.Running() {
				return s
			}
		}
	}
	return nil
}

// Masters returns the running masters that own slots.
func (c *Cluster) Masters() []*Server {
	c.t.Helper()
	var out []*Server
	for _, n := range c.Topology() {
		if n.Master && !n.Failed && n.Slots != "" {
			if s := c.Node(n.Addr); s != nil && s.Running() {
				out = append(out, s)
			}
		}
	}
	return out
}

// Client returns a go-redis ClusterClient over every node, closed at the
// test's cleanup.
func (c *Cluster) Client() *redis.ClusterClient {
	addrs := make([]string, len(c.Nodes))
	for i, s := range c.Nodes {
		addrs[i] = s.Addr()
	}
	cl := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:        addrs,
		DialTimeout:  2 * time.Second,
		ReadTimeout:  5 * time.Second,
		WriteTimeout: 5 * time.Second,
		MaxRedirects: 16,
		Protocol:     2,
	})
	c.t.Cleanup(func() { _ = cl.Close() })
	return cl
}
