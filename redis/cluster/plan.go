package cluster

import (
	"fmt"
	"slices"

	"github.com/replsm/replsm/slot"
)

// ChangeKind says what a topology change does to the replica.
type ChangeKind string

const (
	// Add follows a new master as a new shard.
	Add ChangeKind = "add"
	// Repoint makes a shard follow another node of the same shard (a
	// failover promoted it): the cursor stays, PSYNC continues.
	Repoint ChangeKind = "repoint"
	// Reslot changes the slots a followed master owns (a resharding).
	Reslot ChangeKind = "reslot"
	// Remove detaches a shard whose master owns no slot any more.
	Remove ChangeKind = "remove"
)

// Change is one topology change, with the reason logged for it.
type Change struct {
	Kind     ChangeKind
	ID       slot.ID // the replica's shard
	From, To string  // master endpoints (From empty for Add, To for Remove)
	Reason   string
}

// plan matches the new map's shards with the followed ones and returns the
// next followed set and the changes that lead there. A new shard continues
// a followed one when they share a node: its master is the followed
// master, a node of the followed shard (a promoted replica), or the
// followed master is a node of it (a demoted one). Slot overlap alone does
// not match: after a resharding the new owner of a slot is another
// replication history. nextID is the first id free for new shards.
func plan(old []RouteShard, m Map, nextID slot.ID) ([]RouteShard, []Change) {
	used := make([]bool, len(old))
	match := func(ns Shard) int {
		for i, os := range old {
			if !used[i] && os.MasterID == ns.MasterID {
				return i
			}
		}
		for i, os := range old {
			if !used[i] && (os.Has(ns.MasterID) || ns.Has(os.MasterID)) {
				return i
			}
		}
		// A node may answer before it learnt who replicates whom, and a
		// killed master drops out of its shard's node list: a master that
		// took over exactly the slots of a followed master is taken as its
		// promoted replica. Should it be another history, the re-pointed
		// PSYNC gets a full sync: slower, never wrong.
		for i, os := range old {
			if !used[i] && slices.Equal(os.Ranges, ns.Ranges) && !inMap(m, os.MasterID) {
				return i
			}
		}
		return -1
	}
	var next []RouteShard
	var changes []Change
	for _, ns := range m.Shards {
		i := match(ns)
		if i < 0 {
			id := nextID
			nextID++
			next = append(next, RouteShard{ID: int(id), Shard: ns})
			changes = append(changes, Change{Kind: Add, ID: id, To: ns.Master,
				Reason: fmt.Sprintf("new master %s at %s owns slots %s", short(ns.MasterID), ns.Master, ns.rangesText())})
			continue
		}
		used[i] = true
		os := old[i]
		id := slot.ID(os.ID)
		// Remember every node ever seen in the shard: the one promoted next
		// may be listed by one answer and not by another.
		merged := ns
		merged.Nodes = slices.Clone(ns.Nodes)
		for _, n := range os.Nodes {
			if !merged.Has(n) {
				merged.Nodes = append(merged.Nodes, n)
			}
		}
		next = append(next, RouteShard{ID: os.ID, Shard: merged})
		switch {
		case os.MasterID != ns.MasterID:
			changes = append(changes, Change{Kind: Repoint, ID: id, From: os.Master, To: ns.Master,
				Reason: fmt.Sprintf("failover: master %s at %s replaced by %s at %s of the same shard", short(os.MasterID), os.Master, short(ns.MasterID), ns.Master)})
		case os.Master != ns.Master:
			changes = append(changes, Change{Kind: Repoint, ID: id, From: os.Master, To: ns.Master,
				Reason: fmt.Sprintf("master %s moved from %s to %s", short(ns.MasterID), os.Master, ns.Master)})
		}
		if !slices.Equal(os.Ranges, ns.Ranges) {
			changes = append(changes, Change{Kind: Reslot, ID: id, From: os.Master, To: ns.Master,
				Reason: fmt.Sprintf("slots of master %s: %s -> %s", short(ns.MasterID), os.rangesText(), ns.rangesText())})
		}
	}
	for i, os := range old {
		if !used[i] {
			changes = append(changes, Change{Kind: Remove, ID: slot.ID(os.ID), From: os.Master,
				Reason: fmt.Sprintf("master %s at %s owns no slot any more", short(os.MasterID), os.Master)})
		}
	}
	return next, changes
}

// short is a node id's first 8 characters, as redis-cli prints them.
func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// inMap reports whether node id is the master of a shard of m.
func inMap(m Map, id string) bool {
	return slices.ContainsFunc(m.Shards, func(s Shard) bool { return s.MasterID == id })
}
