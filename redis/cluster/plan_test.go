package cluster

import (
	"testing"

	"github.com/replsm/replsm/slot"
)

func followed(m Map) []RouteShard {
	out := make([]RouteShard, len(m.Shards))
	for i, s := range m.Shards {
		out[i] = RouteShard{ID: i, Shard: s}
	}
	return out
}

func kinds(cs []Change) map[ChangeKind][]slot.ID {
	out := map[ChangeKind][]slot.ID{}
	for _, c := range cs {
		out[c.Kind] = append(out[c.Kind], c.ID)
	}
	return out
}

func TestPlanFailoverRepointsTheSameShard(t *testing.T) {
	old := followed(three())
	m := three()
	// The replica dddd of master aaaa was promoted; the dead aaaa is no
	// longer listed in its shard.
	m.Shards[0] = Shard{MasterID: "dddd", Master: "127.0.0.1:7003", Nodes: []string{"dddd"}, Ranges: []Range{{0, 5460}}}
	next, changes := plan(old, m, 3)
	if len(changes) != 1 || changes[0].Kind != Repoint || changes[0].ID != 0 || changes[0].To != "127.0.0.1:7003" {
		t.Fatalf("changes = %+v", changes)
	}
	if next[0].ID != 0 || next[0].Master != "127.0.0.1:7003" {
		t.Fatalf("next = %+v", next)
	}
}

func TestPlanReshardAddsNewMasterAndReslots(t *testing.T) {
	old := followed(three())
	m := three()
	m.Shards[0].Ranges = []Range{{100, 5460}}
	m.Shards = append([]Shard{{MasterID: "gggg", Master: "127.0.0.1:7006", Nodes: []string{"gggg"}, Ranges: []Range{{0, 99}}}}, m.Shards...)
	next, changes := plan(old, m, 3)
	k := kinds(changes)
	if len(k[Add]) != 1 || k[Add][0] != 3 || len(k[Reslot]) != 1 || k[Reslot][0] != 0 || len(k[Repoint]) != 0 || len(k[Remove]) != 0 {
		t.Fatalf("changes = %+v", changes)
	}
	if len(next) != 4 {
		t.Fatalf("next = %+v", next)
	}
}

func TestPlanRemovesAMasterWithoutSlots(t *testing.T) {
	old := followed(three())
	m := three()
	m.Shards[1].Ranges = []Range{{5461, 16383}}
	m.Shards = append(m.Shards[:2:2], m.Shards[3:]...)
	_, changes := plan(old, m, 3)
	k := kinds(changes)
	if len(k[Remove]) != 1 || k[Remove][0] != 2 || len(k[Reslot]) != 1 {
		t.Fatalf("changes = %+v", changes)
	}
}

func TestPlanSameMapNoChanges(t *testing.T) {
	if _, changes := plan(followed(three()), three(), 3); len(changes) != 0 {
		t.Fatalf("changes = %+v", changes)
	}
}

func TestPlanKilledMasterUnlistedReplicaStillContinues(t *testing.T) {
	old := followed(three())
	old[1].Nodes = []string{"bbbb"} // the replica was not known yet
	m := three()
	m.Shards[1] = Shard{MasterID: "eeee", Master: "127.0.0.1:7004", Nodes: []string{"eeee"}, Ranges: []Range{{5461, 10922}}}
	_, changes := plan(old, m, 3)
	if len(changes) != 1 || changes[0].Kind != Repoint || changes[0].ID != 1 {
		t.Fatalf("changes = %+v", changes)
	}
}
