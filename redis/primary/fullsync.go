package primary

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/replsm/replsm/redis/rdb"
)

// snapshot is one full-sync payload: the keyspace as of offset in the
// history replID/epoch, encoded as RDB v10. Concurrent full syncs share one
// (follower.Snapshots), and all of them start streaming at offset.
type snapshot struct {
	replID string
	offset int64
	epoch  uint64
	rdb    []byte
}

// awaitSnapshot joins the full-sync snapshot of history epoch, starting it
// if none is being built, and sends a bare "\n" every KeepalivePeriod
// while it waits, as Redis does while its child process writes the RDB.
func (s *session) awaitSnapshot(epoch uint64) (*snapshot, error) {
	p := s.p
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type acquired struct {
		snap   *snapshot
		shared bool
		err    error
	}
	s.phase.Store(int32(phaseWaitSnapshot))
	tick := p.clk.Ticker(p.cfg.KeepalivePeriod) // before the build can start
	defer tick.Stop()
	ch := make(chan acquired, 1)
	go func() {
		v, shared, err := p.snaps.Acquire(ctx, epoch, func(context.Context) (*snapshot, error) {
			return p.buildSnapshot(epoch)
		})
		ch <- acquired{v, shared, err}
	}()
	for {
		select {
		case r := <-ch:
			if r.err != nil {
				return nil, fmt.Errorf("snapshot: %w", r.err)
			}
			p.log.Info("full sync snapshot ready", "follower", s.id, "session", uint64(s.sess),
				"offset", r.snap.offset, "rdb_bytes", len(r.snap.rdb), "shared", r.shared)
			return r.snap, nil
		case <-tick.C:
			if _, err := s.nc.Write([]byte{'\n'}); err != nil {
				cancel()
				<-ch
				return nil, err
			}
		case <-s.done:
			cancel()
			<-ch
			return nil, errSessionClosed
		}
	}
}

// buildSnapshot takes the keyspace snapshot and the offset it stands for in
// one step under p.mu, then encodes it outside the lock while writes go on
// (the keyspace snapshot is copy-on-write). It runs on follower.Snapshots'
// goroutine; Close waits for it.
func (p *Primary) buildSnapshot(epoch uint64) (*snapshot, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	p.wg.Add(1)
	p.mu.Unlock()
	defer p.wg.Done()

	if h := p.hooks.beforeSnapshot; h != nil {
		h()
	}
	p.mu.Lock()
	if p.epoch != epoch {
		p.mu.Unlock()
		return nil, errHistoryForgotten
	}
	ks := p.ks.Snapshot()
	snap := &snapshot{replID: p.replID, offset: p.bl.end, epoch: epoch}
	// The new follower's stream starts here, so the next command must name
	// its database, as Redis resets slaveseldb when a full sync begins.
	p.seldb = -1
	p.mu.Unlock()

	var buf bytes.Buffer
	if err := rdb.Write(&buf, ks, snap.replID, snap.offset); err != nil {
		return nil, fmt.Errorf("encode RDB: %w", err)
	}
	snap.rdb = buf.Bytes()
	return snap, nil
}

// writeSnapshot sends an RDB after +FULLRESYNC: "$<len>\r\n<rdb>" (disk
// style, no trailing CRLF) or, when eof, "$EOF:<mark>\r\n<rdb><mark>"
// (diskless style).
func writeSnapshot(w io.Writer, b []byte, eof bool) error {
	mark := ""
	if eof {
		var err error
		if mark, err = rdb.NewEOFMark(); err != nil {
			return err
		}
	}
	return rdb.WritePayload(w, b, mark)
}
