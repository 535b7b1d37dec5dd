package replica

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/replsm/replsm/redis/cluster"
	"github.com/replsm/replsm/slot"
)

// Following a Redis Cluster (docs/cluster.md): a cluster.Follower adds,
// re-points and removes this replica's shards as the cluster's masters
// change, and installs the slot → shard routes the read path uses
// (cluster_reads.go). These are its cluster.Target methods.

// ErrShardsAtRuntime is returned by AddShard when shards cannot be added
// while running: with a StateDir (restoring a shard added at runtime is not
// supported yet) or after Close.
var ErrShardsAtRuntime = errors.New("redis replica: cannot add a shard at runtime")

// AddShard follows the primary at addr as a new shard id, at once if the
// instance is up. Its keyspace starts empty: the first sync is a full one.
func (r *Replica) AddShard(id slot.ID, addr, reason string) error {
	if r.dur != nil {
		return fmt.Errorf("%w: shards added at runtime are not restored from a StateDir", ErrShardsAtRuntime)
	}
	if id < 0 {
		return fmt.Errorf("%w: shard id %d is negative", ErrInvalidConfig, id)
	}
	if err := checkEndpoint(addr); err != nil {
		return fmt.Errorf("%w: shard %d: %v", ErrInvalidConfig, id, err)
	}
	for _, o := range r.shards() {
		if o.addr() == addr {
			return fmt.Errorf("%w: shard %d already follows %s", ErrInvalidConfig, o.id, addr)
		}
	}
	_, err := r.inst.AddSlotReady(id, addr, func(s *slot.Slot) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.closed {
			return fmt.Errorf("%w: closed", ErrShardsAtRuntime)
		}
		// Published before the slot can start, so its first Sync finds it.
		r.publish(func(set *shardSet) error {
			if _, dup := set.byID[id]; dup {
				return fmt.Errorf("%w: shard %d exists", ErrInvalidConfig, id)
			}
			sh := newShard(id, addr, s, r.clk, r.primaryConfig().BacklogSize)
			i, _ := slices.BinarySearchFunc(set.order, id, func(a *shard, id slot.ID) int { return int(a.id - id) })
			set.order = slices.Insert(set.order, i, sh)
			set.byID[id] = sh
			return nil
		})
		return nil
	})
	if err != nil {
		return err
	}
	r.log.Info("shard added", slog.String("id", id.String()), slog.String("endpoint", addr), slog.String("reason", reason))
	return nil
}

// RemoveShard detaches shard id (its session closes) and forgets it:
// its data is no longer read.
func (r *Replica) RemoveShard(id slot.ID, reason string) error {
	sh, err := r.shard(id)
	if err != nil {
		return err
	}
	if err := r.inst.RemoveSlot(id); err != nil { // detaches: the driver closes the session
		return err
	}
	r.mu.Lock()
	_ = r.publish(func(set *shardSet) error {
		set.order = slices.DeleteFunc(set.order, func(o *shard) bool { return o == sh })
		delete(set.byID, id)
		return nil
	})
	if sh.live != nil {
		sh.live.stop("shard removed: " + reason)
	}
	if sh.probeCancel != nil {
		sh.probeCancel()
	}
	r.mu.Unlock()
	r.log.Info("shard removed", slog.String("id", id.String()), slog.String("endpoint", sh.addr()), slog.String("reason", reason))
	return nil
}

// RepointShard makes shard id follow addr, keeping its cursor (as
// REPLICAOF does, see repoint.go): a promoted replica of its primary
// answers +CONTINUE.
func (r *Replica) RepointShard(id slot.ID, addr, reason string) error {
	sh, err := r.shard(id)
	if err != nil {
		return err
	}
	if err := checkEndpoint(addr); err != nil {
		return fmt.Errorf("%w: shard %d: %v", ErrInvalidConfig, id, err)
	}
	old := sh.addr()
	if old == addr {
		return nil
	}
	sh.ep.Store(parseEndpoint(addr))
	if _, err := sh.slot.SetEndpoint(addr, reason); err != nil {
		sh.ep.Store(parseEndpoint(old))
		return err
	}
	r.log.Info("shard re-pointed", slog.String("id", id.String()), slog.String("from", old), slog.String("to", addr), slog.String("reason", reason))
	return nil
}

// publish applies change to a copy of the shard set and makes the copy
// current. Callers hold r.mu, so writers are serialised; readers never
// wait.
func (r *Replica) publish(change func(*shardSet) error) error {
	old := r.set.Load()
	next := &shardSet{order: slices.Clone(old.order), byID: make(map[slot.ID]*shard, len(old.byID)+1)}
	for k, v := range old.byID {
		next.byID[k] = v
	}
	if err := change(next); err != nil {
		return err
	}
	r.set.Store(next)
	return nil
}

// SetRoutes installs the slot → shard table reads are routed by. Keys of
// slots a shard owned before and no longer owns are then deleted from it:
// the slot's new owner holds them (MIGRATE moved them; its stream carried
// RESTORE-ASKING), and the routes already hide the stale copy.
func (r *Replica) SetRoutes(rt *cluster.Routes) {
	prev := r.routes.Swap(rt)
	if prev == nil || rt == nil {
		return
	}
	lost := map[int][]bool{} // shard id → slots lost
	for sl := range cluster.NumSlots {
		o, had := prev.Owner(sl)
		if n, has := rt.Owner(sl); had && (!has || n != o) {
			if lost[o] == nil {
				lost[o] = make([]bool, cluster.NumSlots)
			}
			lost[o][sl] = true
		}
	}
	for id, slots := range lost {
		sh, ok := r.lookup(slot.ID(id))
		if !ok || !slices.ContainsFunc(rt.Shards(), func(s cluster.RouteShard) bool { return s.ID == id }) {
			continue // gone, or about to be removed: nothing of it is read
		}
		if n := purgeSlots(sh, slots); n > 0 {
			r.log.Info("stale keys of moved slots dropped", slog.String("id", sh.id.String()), slog.Int("keys", n))
		}
	}
}

// purgeSlots deletes the shard's keys whose hash slot is marked in slots
// (database 0: a cluster has no other) and returns how many it deleted.
func purgeSlots(sh *shard, slots []bool) int {
	db := 0
	res, _ := sh.ks.Exec(&db, [][]byte{[]byte("KEYS"), []byte("*")})
	var del [][]byte
	for _, k := range res.Reply.Array {
		if slots[cluster.HashSlot(k.Str)] {
			del = append(del, k.Str)
		}
	}
	if len(del) == 0 {
		return 0
	}
	db = 0
	out, _ := sh.ks.Exec(&db, append([][]byte{[]byte("DEL")}, del...))
	return int(out.Reply.Int)
}

// Routes is the slot table installed by SetRoutes (nil when the replica
// does not follow a cluster).
func (r *Replica) Routes() *cluster.Routes { return r.routes.Load() }

var _ cluster.Target = (*Replica)(nil)
