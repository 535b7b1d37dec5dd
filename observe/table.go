package observe

import (
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/replsm/replsm/slot"
)

// counterTable finds a slot's event counters from its record's ID
// ("slot/3") on the transition path without a lock or a hash: slot ids
// below denseMax index a copy-on-write slice (it grows, under mu, only
// when a new slot shows up); anything else goes through a sync.Map. The
// benchmark this serves: BenchmarkSlotTransition with the observer within
// 1.1x of none.
type counterTable struct {
	width int // counters per slot
	dense atomic.Pointer[[]*slotEvents]
	mu    sync.Mutex // writers of dense
	other sync.Map   // string ID -> *slotEvents
}

// denseMax bounds the dense slice (8 MiB of pointers at most).
const denseMax = 1 << 20

const slotPrefix = "slot/"

// parseSlotID reads n from "slot/<n>" without allocating.
func parseSlotID(id string) (int, bool) {
	if len(id) <= len(slotPrefix) || id[:len(slotPrefix)] != slotPrefix || len(id) > len(slotPrefix)+9 {
		return 0, false
	}
	n := 0
	for i := len(slotPrefix); i < len(id); i++ {
		c := id[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// get returns the counters of the slot a record names, creating them.
func (t *counterTable) get(id string) *slotEvents {
	if n, ok := parseSlotID(id); ok && n < denseMax {
		if d := t.dense.Load(); d != nil && n < len(*d) {
			if c := (*d)[n]; c != nil {
				return c
			}
		}
		return t.addDense(n)
	}
	if v, ok := t.other.Load(id); ok {
		return v.(*slotEvents)
	}
	v, _ := t.other.LoadOrStore(id, t.newEvents())
	return v.(*slotEvents)
}

func (t *counterTable) newEvents() *slotEvents {
	return &slotEvents{n: make([]atomic.Uint64, t.width)}
}

func (t *counterTable) addDense(n int) *slotEvents {
	t.mu.Lock()
	defer t.mu.Unlock()
	var cur []*slotEvents
	if d := t.dense.Load(); d != nil {
		cur = *d
	}
	if n < len(cur) && cur[n] != nil {
		return cur[n]
	}
	next := make([]*slotEvents, max(len(cur), n+1, min(2*len(cur), denseMax)))
	copy(next, cur)
	c := t.newEvents()
	next[n] = c
	t.dense.Store(&next)
	return c
}

// load returns the counters of slot id, nil when it has none.
func (t *counterTable) load(id slot.ID) *slotEvents {
	if n := int(id); n >= 0 && n < denseMax {
		if d := t.dense.Load(); d != nil && n < len(*d) {
			return (*d)[n]
		}
		return nil
	}
	if v, ok := t.other.Load(id.String()); ok {
		return v.(*slotEvents)
	}
	return nil
}

// prune forgets the counters of slots not in live (removed slots), so the
// table is bounded by the slots configured, not by every slot there was.
func (t *counterTable) prune(live map[slot.ID]bool) {
	t.mu.Lock()
	if d := t.dense.Load(); d != nil {
		stale := false
		for i, c := range *d {
			if c != nil && !live[slot.ID(i)] {
				stale = true
				break
			}
		}
		if stale {
			next := make([]*slotEvents, len(*d))
			for i, c := range *d {
				if live[slot.ID(i)] {
					next[i] = c
				}
			}
			t.dense.Store(&next)
		}
	}
	t.mu.Unlock()
	t.other.Range(func(k, _ any) bool {
		n, err := strconv.Atoi(k.(string)[min(len(slotPrefix), len(k.(string))):])
		if err != nil || !live[slot.ID(n)] {
			t.other.Delete(k)
		}
		return true
	})
}
