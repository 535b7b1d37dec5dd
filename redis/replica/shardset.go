package replica

import "github.com/replsm/replsm/slot"

// shardSet is the replica's shards, by id and in id order. A set is never
// changed once published: adding or removing a shard at runtime publishes
// a new one (Replica.set), so readers take no lock.
type shardSet struct {
	order []*shard
	byID  map[slot.ID]*shard
}

// shards lists the shards in id order.
func (r *Replica) shards() []*shard { return r.set.Load().order }

// lookup finds shard id.
func (r *Replica) lookup(id slot.ID) (*shard, bool) {
	sh, ok := r.set.Load().byID[id]
	return sh, ok
}
