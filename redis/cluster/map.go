package cluster

import (
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Range is an inclusive range of hash slots.
type Range struct{ Start, End int }

func (r Range) String() string {
	if r.Start == r.End {
		return strconv.Itoa(r.Start)
	}
	return strconv.Itoa(r.Start) + "-" + strconv.Itoa(r.End)
}

// Shard is one master of the cluster with the slots it owns.
type Shard struct {
	// MasterID is the master's node id, Master its "host:port".
	MasterID, Master string
	// Nodes are the ids of every node of the shard (the master and its
	// replicas); a failover promotes one of them.
	Nodes []string
	// Ranges are the master's slots, sorted, non-overlapping.
	Ranges []Range
}

// Slots counts the shard's slots.
func (s Shard) Slots() int {
	n := 0
	for _, r := range s.Ranges {
		n += r.End - r.Start + 1
	}
	return n
}

// Has reports whether node id belongs to the shard.
func (s Shard) Has(id string) bool { return id == s.MasterID || slices.Contains(s.Nodes, id) }

func (s Shard) rangesText() string {
	parts := make([]string, len(s.Ranges))
	for i, r := range s.Ranges {
		parts[i] = r.String()
	}
	return strings.Join(parts, ",")
}

// Map is the cluster's masters with slots, sorted by their first slot.
// Masters that own no slot are not in it.
type Map struct {
	Shards []Shard
}

// String is a one-line form for logs: master=ranges per shard.
func (m Map) String() string {
	parts := make([]string, len(m.Shards))
	for i, s := range m.Shards {
		parts[i] = s.Master + "=" + s.rangesText()
	}
	return strings.Join(parts, " ")
}

// Equal reports whether two maps name the same masters with the same
// slots (node lists aside: replicas come and go without moving data).
func (m Map) Equal(o Map) bool {
	if len(m.Shards) != len(o.Shards) {
		return false
	}
	for i := range m.Shards {
		a, b := m.Shards[i], o.Shards[i]
		if a.MasterID != b.MasterID || a.Master != b.Master || !slices.Equal(a.Ranges, b.Ranges) {
			return false
		}
	}
	return true
}

// normalize sorts ranges and shards and drops masters without slots.
func (m *Map) normalize() {
	out := m.Shards[:0]
	for _, s := range m.Shards {
		if len(s.Ranges) == 0 {
			continue
		}
		sort.Slice(s.Ranges, func(i, j int) bool { return s.Ranges[i].Start < s.Ranges[j].Start })
		out = append(out, s)
	}
	m.Shards = out
	sort.Slice(m.Shards, func(i, j int) bool { return m.Shards[i].Ranges[0].Start < m.Shards[j].Ranges[0].Start })
}

// Validate checks that every slot is owned by exactly one master, that
// every range is within 0..16383, and that every master has an id and a
// "host:port". It returns an error wrapping ErrInvalidMap naming the first
// problem.
func (m Map) Validate() error {
	if len(m.Shards) == 0 {
		return fmt.Errorf("%w: no master owns a slot", ErrInvalidMap)
	}
	var owner [NumSlots]int16 // index+1 of the owning shard
	ids := map[string]bool{}
	for i, s := range m.Shards {
		if s.MasterID == "" {
			return fmt.Errorf("%w: master %s has no node id", ErrInvalidMap, s.Master)
		}
		if ids[s.MasterID] {
			return fmt.Errorf("%w: master %s is listed twice", ErrInvalidMap, s.MasterID)
		}
		ids[s.MasterID] = true
		if _, _, err := net.SplitHostPort(s.Master); err != nil || strings.HasPrefix(s.Master, ":") {
			return fmt.Errorf("%w: master %s has no usable endpoint %q", ErrInvalidMap, s.MasterID, s.Master)
		}
		for _, r := range s.Ranges {
			if r.Start < 0 || r.End >= NumSlots || r.Start > r.End {
				return fmt.Errorf("%w: master %s claims slot range %d-%d", ErrInvalidMap, s.Master, r.Start, r.End)
			}
			for sl := r.Start; sl <= r.End; sl++ {
				if o := owner[sl]; o != 0 {
					return fmt.Errorf("%w: slot %d is claimed by both %s and %s", ErrInvalidMap, sl, m.Shards[o-1].Master, s.Master)
				}
				owner[sl] = int16(i + 1)
			}
		}
	}
	for sl := range owner {
		if owner[sl] == 0 {
			return fmt.Errorf("%w: slot %d is owned by no master (cluster not fully covered)", ErrInvalidMap, sl)
		}
	}
	return nil
}

// Routes maps each hash slot to the replica shard id that owns it now, for
// the read path. It is immutable once built; a map change builds a new
// one.
type Routes struct {
	owner  [NumSlots]int32 // shard id + 1; 0: no shard
	shards []RouteShard
}

// RouteShard is one followed shard in Routes.
type RouteShard struct {
	ID int // the replica's shard (slot) id
	Shard
}

// NewRoutes builds the table: shards[i] is followed as replica shard
// shards[i].ID. Overlapping claims are not checked here (Validate has).
func NewRoutes(shards []RouteShard) *Routes {
	rt := &Routes{shards: slices.Clone(shards)}
	for _, s := range shards {
		for _, r := range s.Ranges {
			for sl := max(r.Start, 0); sl <= min(r.End, NumSlots-1); sl++ {
				rt.owner[sl] = int32(s.ID) + 1
			}
		}
	}
	return rt
}

// Owner is the shard id owning hash slot sl; false when none does.
func (rt *Routes) Owner(sl int) (int, bool) {
	if sl < 0 || sl >= NumSlots {
		return 0, false
	}
	o := rt.owner[sl]
	return int(o) - 1, o != 0
}

// Shards are the followed shards, in the order given to NewRoutes.
func (rt *Routes) Shards() []RouteShard { return slices.Clone(rt.shards) }
