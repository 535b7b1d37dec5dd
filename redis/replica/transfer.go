package replica

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

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

	o := &s.sh.obs
	start := s.rep.clk.Now()
	o.xferStart.Store(start.UnixNano())
	o.xferTotal.Store(-1)
	o.xferBase.Store(o.rx.Load() - int64(br.Buffered()))
	o.xferActive.Store(true)
	defer o.xferActive.Store(false)
	if total, pre, ok := peekPayloadSize(br); ok {
		o.xferTotal.Store(total)
		o.xferBase.Store(o.rx.Load() - int64(br.Buffered()) + int64(pre))
	}
	loaded, size, err := loadSnapshot(br, s.rep.cfg.MaxPayload, s.rep.clk)
	if err != nil {
		return err
	}
	// The transfer is over before the slot hears it: INFO must not show a
	// sync in progress on a Connected shard.
	o.xferActive.Store(false)
	end := s.rep.clk.Now()
	o.lastFullDur.Store(int64(end.Sub(start)))
	o.lastFullBytes.Store(size)
	o.lastFullAt.Store(end.UnixNano())
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
// "\n" keepalives skipped) and loads it into a new keyspace. It returns
// the payload's size (the RDB's bytes), or on failure the bytes consumed.
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
	return loaded, int64(len(payload)), nil
}

// peekPayloadSize reads ahead, without consuming, to the payload preamble
// "$<len>\r\n" and returns len and the preamble's length (keepalive
// newlines before it included), for the transfer's progress. An EOF-marked
// payload has no length (ok false), as does anything unexpected; then
// ReadPayload reports the problem. It only waits for bytes the preamble is
// made of, which ReadPayload would wait for too.
func peekPayloadSize(br *bufio.Reader) (size int64, preamble int, ok bool) {
	const maxLine = 64
	skip := 0
	for i := 1; i <= skip+maxLine && i <= br.Size(); i++ {
		p, err := br.Peek(i)
		if err != nil {
			return 0, 0, false
		}
		c := p[i-1]
		if i-1 == skip && (c == '\n' || c == '\r') {
			skip = i // a keepalive before the preamble
			continue
		}
		if c != '\n' {
			continue
		}
		line := strings.TrimSuffix(string(p[skip:i-1]), "\r")
		digits, found := strings.CutPrefix(line, "$")
		if !found {
			return 0, 0, false
		}
		n, err := strconv.ParseInt(digits, 10, 64)
		if err != nil || n < 0 {
			return 0, 0, false
		}
		return n, i, true
	}
	return 0, 0, false
}
