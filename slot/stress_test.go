package slot

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"
)

// replyDriver answers some requests at once from inside Sync, to exercise
// re-entry while other goroutines hammer the same slots.
type replyDriver struct{ slots map[ID]*Slot }

func (d *replyDriver) Sync(r Request) error {
	if r.Session%3 == 0 {
		_ = d.slots[r.Slot].SyncOK(r.Session)
	}
	return nil
}
func (d *replyDriver) Close(ID, Session, string) {}

// TestStressRecordsStayConsistent fires random legal and illegal events,
// replies, data and operator commands at many slots from many goroutines
// while time moves, then checks each slot's log: no gaps in sequence
// numbers, each record starts where the previous one ended, and every
// record is a transition the spec declares.
func TestStressRecordsStayConsistent(t *testing.T) {
	const slots, workers, opsPerWorker = 16, 8, 3000
	clk := clock.NewMock()
	drv := &replyDriver{slots: map[ID]*Slot{}}
	var mu sync.Mutex
	logs := map[string][]Record{}
	rt, err := NewRuntime(Options{Clock: clk, Driver: drv, Seed: 3,
		Observers: []Observer{func(r Record) { mu.Lock(); logs[r.ID] = append(logs[r.ID], r); mu.Unlock() }}})
	require.NoError(t, err)
	cfg := DefaultConfig()
	cfg.RecoveryCap = 1000
	all := make([]*Slot, slots)
	for i := range all {
		s, err := rt.NewSlot(ID(i), "", &cfg)
		require.NoError(t, err)
		all[i], drv.slots[ID(i)] = s, s
	}

	events := append(def.Spec().Events(), "bogus", "")
	stop := make(chan struct{})
	var ticker sync.WaitGroup
	ticker.Add(1)
	go func() { // time moves while the workers run
		defer ticker.Done()
		for i := 0; i < 200; i++ {
			select {
			case <-stop:
				return
			default:
			}
			clk.Add(700 * time.Millisecond)
			rt.RunDue()
		}
	}()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, 99))
			for i := 0; i < opsPerWorker; i++ {
				s := all[r.IntN(slots)]
				sess := s.Session()
				if r.IntN(4) == 0 {
					sess = Session(r.IntN(5))
				}
				switch r.IntN(10) {
				case 0:
					s.LinkUp()
				case 1:
					s.LinkDown("stress")
				case 2:
					_, _ = s.Detach("stress")
				case 3:
					_, _ = s.Resume("stress")
				case 4:
					_, _ = s.Reset("stress")
				case 5:
					_ = s.Data(sess)
				default:
					_, _ = s.Deliver(sess, events[r.IntN(len(events))], "stress")
				}
			}
		}(uint64(w))
	}
	wg.Wait()
	close(stop)
	ticker.Wait()

	legal := map[[3]string]bool{}
	for _, tr := range def.Spec().Transitions {
		for _, src := range tr.Src {
			legal[[3]string{string(tr.Event), string(src), string(tr.Dst)}] = true
		}
	}
	mu.Lock()
	defer mu.Unlock()
	total := 0
	for id, recs := range logs {
		prev := NoConnect
		for i, r := range recs {
			require.Equal(t, uint64(i+1), r.Seq, "%s: sequence gap", id)
			require.Equal(t, prev, r.From, "%s #%d: from is not the previous to", id, r.Seq)
			require.True(t, legal[[3]string{string(r.Event), string(r.From), string(r.To)}], "%s #%d: %s not in spec", id, r.Seq, r)
			prev = r.To
		}
		total += len(recs)
	}
	require.Greater(t, total, slots*10, "the stress run made too few transitions to mean anything")
}
