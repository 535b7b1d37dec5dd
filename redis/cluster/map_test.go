package cluster

import (
	"errors"
	"strings"
	"testing"

	"github.com/replsm/replsm/redis/resp"
)

func three() Map {
	return Map{Shards: []Shard{
		{MasterID: "aaaa", Master: "127.0.0.1:7000", Nodes: []string{"aaaa", "dddd"}, Ranges: []Range{{0, 5460}}},
		{MasterID: "bbbb", Master: "127.0.0.1:7001", Nodes: []string{"bbbb", "eeee"}, Ranges: []Range{{5461, 10922}}},
		{MasterID: "cccc", Master: "127.0.0.1:7002", Nodes: []string{"cccc", "ffff"}, Ranges: []Range{{10923, 16383}}},
	}}
}

func TestValidate(t *testing.T) {
	if err := three().Validate(); err != nil {
		t.Fatalf("valid map: %v", err)
	}
	for name, mutate := range map[string]func(*Map){
		"slot claimed twice": func(m *Map) { m.Shards[1].Ranges[0].Start = 5000 },
		"slot uncovered":     func(m *Map) { m.Shards[2].Ranges[0].End = 16000 },
		"range out of bounds": func(m *Map) {
			m.Shards[2].Ranges[0].End = 16384
		},
		"no endpoint":  func(m *Map) { m.Shards[0].Master = "nohost" },
		"no node id":   func(m *Map) { m.Shards[0].MasterID = "" },
		"empty map":    func(m *Map) { m.Shards = nil },
		"master twice": func(m *Map) { m.Shards[1].MasterID = "aaaa" },
	} {
		m := three()
		mutate(&m)
		if err := m.Validate(); !errors.Is(err, ErrInvalidMap) {
			t.Errorf("%s: err = %v, want ErrInvalidMap", name, err)
		}
	}
}

func TestRoutes(t *testing.T) {
	m := three()
	rt := NewRoutes([]RouteShard{{ID: 7, Shard: m.Shards[0]}, {ID: 3, Shard: m.Shards[1]}})
	for sl, want := range map[int]int{0: 7, 5460: 7, 5461: 3, 10922: 3} {
		if got, ok := rt.Owner(sl); !ok || got != want {
			t.Errorf("Owner(%d) = %d,%v want %d", sl, got, ok, want)
		}
	}
	for _, sl := range []int{10923, 16383, -1, 16384} {
		if _, ok := rt.Owner(sl); ok {
			t.Errorf("Owner(%d) found an owner", sl)
		}
	}
}

func bulk(s string) resp.Value { return resp.BulkString(s) }

func node(id, port, role string) resp.Value {
	return resp.Array(bulk("id"), bulk(id), bulk("port"), resp.Integer(int64(mustAtoi(port))), bulk("ip"), bulk("127.0.0.1"),
		bulk("endpoint"), bulk("127.0.0.1"), bulk("replication-offset"), resp.Integer(10), bulk("role"), bulk(role), bulk("health"), bulk("online"))
}

func mustAtoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func TestParseShards(t *testing.T) {
	v := resp.Array(
		resp.Array(bulk("slots"), resp.Array(resp.Integer(5461), resp.Integer(16383)),
			bulk("nodes"), resp.Array(node("bbbb", "7001", "master"), node("eeee", "7004", "replica"))),
		resp.Array(bulk("slots"), resp.Array(resp.Integer(0), resp.Integer(5460)),
			bulk("nodes"), resp.Array(node("dddd", "7003", "replica"), node("aaaa", "7000", "master"))),
		// A master without slots (a node just added) is not followed.
		resp.Array(bulk("slots"), resp.Array(), bulk("nodes"), resp.Array(node("gggg", "7006", "master"))),
	)
	m, err := ParseShards(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := m.String(); got != "127.0.0.1:7000=0-5460 127.0.0.1:7001=5461-16383" {
		t.Fatalf("map = %s", got)
	}
	if !m.Shards[0].Has("dddd") || m.Shards[0].MasterID != "aaaa" {
		t.Fatalf("shard 0 = %+v", m.Shards[0])
	}
	for name, bad := range map[string]resp.Value{
		"not an array":    bulk("x"),
		"odd pairs":       resp.Array(resp.Array(bulk("slots"))),
		"bad slots":       resp.Array(resp.Array(bulk("slots"), resp.Array(resp.Integer(1)), bulk("nodes"), resp.Array())),
		"node without id": resp.Array(resp.Array(bulk("slots"), resp.Array(resp.Integer(0), resp.Integer(1)), bulk("nodes"), resp.Array(resp.Array(bulk("port"), resp.Integer(1))))),
	} {
		if _, err := ParseShards(bad); !errors.Is(err, ErrProtocol) {
			t.Errorf("%s: err = %v, want ErrProtocol", name, err)
		}
	}
	two := resp.Array(resp.Array(bulk("slots"), resp.Array(resp.Integer(0), resp.Integer(16383)),
		bulk("nodes"), resp.Array(node("aaaa", "7000", "master"), node("bbbb", "7001", "master"))))
	if _, err := ParseShards(two); !errors.Is(err, ErrInvalidMap) || !strings.Contains(err.Error(), "2 masters") {
		t.Errorf("two masters in a shard: err = %v", err)
	}
}

func TestParseSlots(t *testing.T) {
	nd := func(port int64, id string) resp.Value {
		return resp.Array(bulk("127.0.0.1"), resp.Integer(port), bulk(id))
	}
	v := resp.Array(
		resp.Array(resp.Integer(0), resp.Integer(100), nd(7000, "aaaa"), nd(7003, "dddd")),
		resp.Array(resp.Integer(101), resp.Integer(16000), nd(7001, "bbbb")),
		resp.Array(resp.Integer(16001), resp.Integer(16383), nd(7000, "aaaa")),
	)
	m, err := ParseSlots(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := m.String(); got != "127.0.0.1:7000=0-100,16001-16383 127.0.0.1:7001=101-16000" {
		t.Fatalf("map = %s", got)
	}
	if !m.Shards[0].Has("dddd") {
		t.Fatalf("replica not in shard: %+v", m.Shards[0])
	}
}
