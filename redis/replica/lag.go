package replica

import (
	"context"
	"sync"
	"time"

	"github.com/replsm/replsm/slot"
)

// How far behind a shard is. Redis's replica does not know its primary's
// offset (the stream never says it), so with Config.LagProbeInterval the
// replica asks each Connected shard's primary for ROLE and keeps the last
// few (offset, time) answers. Lag in bytes is the newest primary offset
// minus the shard's; lag in seconds is how long ago the primary was at the
// first offset the shard has not reached (0 when it has reached them all),
// so its resolution is the probe interval.

const lagSamples = 32

type lagSample struct {
	off int64
	at  time.Time
}

// lagTrack holds a shard's recent primary offsets, oldest first.
type lagTrack struct {
	mu      sync.Mutex
	samples []lagSample
}

func (l *lagTrack) add(off int64, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := len(l.samples); n > 0 && l.samples[n-1].off > off {
		l.samples = l.samples[:0] // a new primary history: start over
	}
	if len(l.samples) == lagSamples {
		copy(l.samples, l.samples[1:])
		l.samples = l.samples[:lagSamples-1]
	}
	l.samples = append(l.samples, lagSample{off, at})
}

func (l *lagTrack) reset() {
	l.mu.Lock()
	l.samples = l.samples[:0]
	l.mu.Unlock()
}

// lag reports the shard's lag at offset our; ok is false with no sample.
func (l *lagTrack) lag(our int64, now time.Time) (bytes int64, seconds float64, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// Samples the shard has passed say nothing any more.
	i := 0
	for i < len(l.samples)-1 && l.samples[i].off <= our {
		i++
	}
	l.samples = append(l.samples[:0], l.samples[i:]...)
	if len(l.samples) == 0 {
		return 0, 0, false
	}
	newest := l.samples[len(l.samples)-1]
	bytes = max(newest.off-our, 0)
	if first := l.samples[0]; first.off > our {
		seconds = max(now.Sub(first.at).Seconds(), 0)
	}
	return bytes, seconds, true
}

// runLagProbe asks every Connected shard's primary for its offset each
// LagProbeInterval until ctx ends.
func (r *Replica) runLagProbe(ctx context.Context) {
	defer r.wg.Done()
	t := r.clk.Ticker(r.cfg.LagProbeInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var wg sync.WaitGroup
		for _, sh := range r.shards() {
			if sh.slot.State() != slot.Connected {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if p := r.probeRole(ctx, sh.addr()); p.kind == rolePrimary && p.offset >= 0 {
					sh.obs.lag.add(p.offset, r.clk.Now())
				}
			}()
		}
		wg.Wait()
	}
}
