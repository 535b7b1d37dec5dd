package cluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/replsm/replsm/redis/resp"
)

// replyLimits bound what a node's CLUSTER reply may make us read: a map of
// even 1000 masters fits comfortably.
var replyLimits = resp.Limits{MaxBulkLen: 1 << 16, MaxArrayLen: 1 << 15, MaxDepth: 6}

// Query asks one node for the cluster map: CLUSTER SHARDS, or CLUSTER SLOTS
// when the node does not know SHARDS (before Redis 7.0). The answer is
// parsed and validated (Map.Validate). ctx bounds dialling and reading.
func Query(ctx context.Context, addr string) (Map, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return Map{}, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	} else {
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	}
	// Stop blocking reads at once when ctx ends early.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	rd := resp.NewReaderLimits(bufio.NewReader(conn), replyLimits)
	ask := func(sub string) (resp.Value, error) {
		if _, err := conn.Write(resp.AppendCommandStrings(nil, "CLUSTER", sub)); err != nil {
			return resp.Value{}, err
		}
		v, _, err := rd.ReadValue()
		return v, err
	}
	v, err := ask("SHARDS")
	if err != nil {
		return Map{}, err
	}
	parse := ParseShards
	if v.Kind == resp.KindError && isUnknownSubcommand(v.Text()) {
		if v, err = ask("SLOTS"); err != nil {
			return Map{}, err
		}
		parse = ParseSlots
	}
	if err := replyError(v); err != nil {
		return Map{}, err
	}
	m, err := parse(v)
	if err != nil {
		return Map{}, err
	}
	return m, m.Validate()
}

func isUnknownSubcommand(msg string) bool {
	return strings.Contains(strings.ToLower(msg), "unknown subcommand")
}

func replyError(v resp.Value) error {
	if v.Kind != resp.KindError {
		return nil
	}
	if strings.Contains(v.Text(), "cluster support disabled") {
		return fmt.Errorf("%w: %s", ErrNotCluster, v.Text())
	}
	return errors.New(v.Text())
}

// pairs reads a RESP2 flat key/value array (RESP3 maps arrive so on RESP2).
func pairs(v resp.Value, what string) (map[string]resp.Value, error) {
	if v.Kind != resp.KindArray || len(v.Array)%2 != 0 {
		return nil, fmt.Errorf("%w: %s is not a key/value array (%s)", ErrProtocol, what, v.Kind)
	}
	out := make(map[string]resp.Value, len(v.Array)/2)
	for i := 0; i < len(v.Array); i += 2 {
		k := v.Array[i]
		if k.Kind != resp.KindBulkString && k.Kind != resp.KindSimpleString {
			return nil, fmt.Errorf("%w: %s has a %s key", ErrProtocol, what, k.Kind)
		}
		out[k.Text()] = v.Array[i+1]
	}
	return out, nil
}

func text(v resp.Value) string {
	if v.Kind == resp.KindInteger {
		return strconv.FormatInt(v.Int, 10)
	}
	return v.Text()
}

func intOf(v resp.Value) (int, bool) {
	switch v.Kind {
	case resp.KindInteger:
		return int(v.Int), true
	case resp.KindBulkString, resp.KindSimpleString:
		n, err := strconv.Atoi(v.Text())
		return n, err == nil
	}
	return 0, false
}

// ParseShards reads a CLUSTER SHARDS reply: per shard "slots" (start/end
// pairs) and "nodes" (id, ip, port, role, health, ...). The shard's node
// whose role is master is its master; shards without slots are dropped.
func ParseShards(v resp.Value) (Map, error) {
	if v.Kind != resp.KindArray {
		return Map{}, fmt.Errorf("%w: CLUSTER SHARDS reply is a %s", ErrProtocol, v.Kind)
	}
	var m Map
	for i, sv := range v.Array {
		f, err := pairs(sv, "shard "+strconv.Itoa(i))
		if err != nil {
			return Map{}, err
		}
		var s Shard
		slots := f["slots"]
		if slots.Kind != resp.KindArray || len(slots.Array)%2 != 0 {
			return Map{}, fmt.Errorf("%w: shard %d: slots is not a list of start/end pairs", ErrProtocol, i)
		}
		for j := 0; j < len(slots.Array); j += 2 {
			a, ok1 := intOf(slots.Array[j])
			b, ok2 := intOf(slots.Array[j+1])
			if !ok1 || !ok2 {
				return Map{}, fmt.Errorf("%w: shard %d: slot range is not two integers", ErrProtocol, i)
			}
			s.Ranges = append(s.Ranges, Range{a, b})
		}
		nodes := f["nodes"]
		if nodes.Kind != resp.KindArray {
			return Map{}, fmt.Errorf("%w: shard %d: nodes is not a list", ErrProtocol, i)
		}
		masters := 0
		for j, nv := range nodes.Array {
			n, err := pairs(nv, fmt.Sprintf("shard %d node %d", i, j))
			if err != nil {
				return Map{}, err
			}
			id := text(n["id"])
			if id == "" {
				return Map{}, fmt.Errorf("%w: shard %d node %d has no id", ErrProtocol, i, j)
			}
			s.Nodes = append(s.Nodes, id)
			if text(n["role"]) != "master" {
				continue
			}
			masters++
			host := text(n["ip"])
			if host == "" || host == "?" {
				host = text(n["endpoint"])
			}
			port, ok := intOf(n["port"])
			if !ok {
				return Map{}, fmt.Errorf("%w: shard %d master %s has no port", ErrProtocol, i, id)
			}
			s.MasterID, s.Master = id, net.JoinHostPort(host, strconv.Itoa(port))
		}
		if len(s.Ranges) == 0 {
			continue // a master without slots (or one that lost them): nothing to follow
		}
		if masters != 1 {
			return Map{}, fmt.Errorf("%w: shard with slots %s has %d masters", ErrInvalidMap, s.rangesText(), masters)
		}
		m.Shards = append(m.Shards, s)
	}
	m.normalize()
	return m, nil
}

// ParseSlots reads a CLUSTER SLOTS reply: per range [start, end, master
// [ip, port, id, ...], replicas...]; ranges are grouped by master id.
func ParseSlots(v resp.Value) (Map, error) {
	if v.Kind != resp.KindArray {
		return Map{}, fmt.Errorf("%w: CLUSTER SLOTS reply is a %s", ErrProtocol, v.Kind)
	}
	byID := map[string]*Shard{}
	var order []string
	for i, e := range v.Array {
		if e.Kind != resp.KindArray || len(e.Array) < 3 {
			return Map{}, fmt.Errorf("%w: CLUSTER SLOTS entry %d is not [start, end, master, ...]", ErrProtocol, i)
		}
		a, ok1 := intOf(e.Array[0])
		b, ok2 := intOf(e.Array[1])
		if !ok1 || !ok2 {
			return Map{}, fmt.Errorf("%w: CLUSTER SLOTS entry %d: range is not two integers", ErrProtocol, i)
		}
		var ids []string
		var master string
		for j, nv := range e.Array[2:] {
			if nv.Kind != resp.KindArray || len(nv.Array) < 3 {
				return Map{}, fmt.Errorf("%w: CLUSTER SLOTS entry %d: node %d is not [ip, port, id, ...]", ErrProtocol, i, j)
			}
			port, ok := intOf(nv.Array[1])
			if !ok {
				return Map{}, fmt.Errorf("%w: CLUSTER SLOTS entry %d: node %d has no port", ErrProtocol, i, j)
			}
			if j == 0 {
				master = net.JoinHostPort(text(nv.Array[0]), strconv.Itoa(port))
			}
			ids = append(ids, text(nv.Array[2]))
		}
		s, ok := byID[ids[0]]
		if !ok {
			s = &Shard{MasterID: ids[0], Master: master}
			byID[ids[0]] = s
			order = append(order, ids[0])
		}
		for _, id := range ids {
			if !s.Has(id) {
				s.Nodes = append(s.Nodes, id)
			}
		}
		s.Ranges = append(s.Ranges, Range{a, b})
	}
	var m Map
	for _, id := range order {
		m.Shards = append(m.Shards, *byID[id])
	}
	m.normalize()
	return m, nil
}

// Discover asks every seed (each bounded by timeout) and returns the map
// they agree on. Seeds that do not answer are skipped; it fails with
// ErrUnreachable when none answers, with ErrInconsistent when two answers
// differ, and with the answer's error (ErrInvalidMap, ErrProtocol, ...)
// when a seed's map is invalid — never with a partial map.
func Discover(ctx context.Context, seeds []string, timeout time.Duration) (Map, error) {
	var (
		got, from string
		m         Map
		failures  []string
	)
	for _, addr := range seeds {
		qctx, cancel := context.WithTimeout(ctx, timeout)
		qm, err := Query(qctx, addr)
		cancel()
		if err != nil {
			if errors.Is(err, ErrInvalidMap) || errors.Is(err, ErrProtocol) || errors.Is(err, ErrNotCluster) {
				return Map{}, fmt.Errorf("seed %s: %w", addr, err)
			}
			failures = append(failures, addr+": "+err.Error())
			continue
		}
		if from == "" {
			m, from, got = qm, addr, qm.String()
			continue
		}
		if !qm.Equal(m) {
			return Map{}, fmt.Errorf("%w: %s says %s; %s says %s", ErrInconsistent, from, got, addr, qm.String())
		}
	}
	if from == "" {
		return Map{}, fmt.Errorf("%w: %s", ErrUnreachable, strings.Join(failures, "; "))
	}
	return m, nil
}
