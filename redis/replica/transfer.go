package replica

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"

	"github.com/benbjohnson/clock"

	"github.com/replsm/replsm/redis/keyspace"
	"github.com/replsm/replsm/redis/rdb"
)

// transfer receives and loads the snapshot that follows +FULLRESYNC. The
// payload is read whole (slot.Data as its bytes arrive keeps the slot's
// transfer-idle timer quiet), loaded into a new keyspace, and swapped in
// only once loading succeeded: a failed or abandoned transfer leaves the
// shard's data and cursor as they were.
func (s *session) transfer(br *bufio.Reader, hs handshakeResult) error {
	if err := s.sh.slot.DBSyncStarted(s.id, hs.line); err != nil {
		return fmt.Errorf("%w: %v", errLeft, err)
	}
	s.phase.Store(int32(phaseTransfer))
	log := s.logger()
	log.Info("full resync: receiving snapshot", slog.String("reply", hs.line))

	loaded, size, err := loadSnapshot(br, s.rep.cfg.MaxPayload, s.rep.clk)
	if err != nil {
		return err
	}
	if s.left.Load() {
		return errLeft // the slot gave up on this transfer: keep the old data
	}
	s.sh.install(loaded, Cursor{ReplID: hs.replID, Offset: hs.offset})
	if d := s.rep.dur; d != nil {
		// After a full sync the saved snapshot is of other data: replace it
		// now rather than at the next trigger.
		d.take(s.sh, true)
	}
	log.Info("full resync: snapshot loaded", slog.Int64("bytes", size), slog.Int("keys", s.sh.ks.Len()),
		slog.String("replid", hs.replID), slog.Int64("offset", hs.offset))
	if err := s.sh.slot.DBSyncDone(s.id); err != nil {
		return fmt.Errorf("%w: %v", errLeft, err)
	}
	// After a diskless (EOF-marked) transfer a Redis 7.0 primary streams
	// nothing until an ACK that arrives after it reaped its fork child.
	// This ACK is often too early, so the ticker repeats it every
	// StreamStartAckPeriod until the stream's first value is read.
	s.awaitStream.Store(true)
	s.phase.Store(int32(phaseStream))
	select {
	case s.streamStart <- struct{}{}:
	default:
	}
	return s.ack()
}

// loadSnapshot reads the payload ("$<len>" or "$EOF:<mark>" framing, bare
// "\n" keepalives skipped) and loads it into a new keyspace.
func loadSnapshot(br *bufio.Reader, max int64, clk clock.Clock) (*keyspace.Keyspace, int64, error) {
	payload, n, err := rdb.ReadPayload(br, max)
	if err != nil {
		if errors.Is(err, errLeft) {
			return nil, n, err
		}
		return nil, n, fmt.Errorf("receive snapshot (%d bytes in): %w", n, err)
	}
	loaded, _, err := rdb.LoadBytes(payload, clk)
	if err != nil {
		return nil, n, fmt.Errorf("load snapshot of %d bytes: %w", len(payload), err)
	}
	return loaded, n, nil
}
