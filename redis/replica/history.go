package replica

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/replsm/replsm/redis/primary"
	"github.com/replsm/replsm/redis/resp"
)

// A shard keeps the stream it applied (PSYNC2 history, docs/failover.md):
// the exact bytes, in a primary.Backlog, so that when it is promoted the
// replicas of the old primary continue from it with +CONTINUE. The
// backlog's end is always the shard's cursor offset once a value is
// applied; the bytes of an open MULTI wait in pend until EXEC moves the
// offset past them.

// histFrom starts a session's stream at offset off: a backlog that does not
// end there (a full sync moved the cursor, or an open MULTI was cut) starts
// over at off.
func (sh *shard) histFrom(off int64) {
	sh.histMu.Lock()
	defer sh.histMu.Unlock()
	sh.pend = sh.pend[:0]
	if sh.hist != nil && sh.hist.End() != off {
		sh.hist.Reset(off)
	}
}

// keep records value v of n stream bytes, after which the applied offset
// is off.
func (sh *shard) keep(v resp.Value, n, off int64, log *slog.Logger) {
	sh.histMu.Lock()
	defer sh.histMu.Unlock()
	if sh.hist == nil {
		return
	}
	before := len(sh.pend)
	if v.Kind == resp.KindKeepalive {
		sh.pend = append(sh.pend, "\r\n"[2-min(n, 2):]...)
	} else {
		sh.pend = resp.AppendValue(sh.pend, v)
	}
	end := sh.hist.End()
	switch {
	case int64(len(sh.pend)-before) != n:
		// Not the canonical encoding: the bytes a follower would get
		// differ from what the primary sent, so no follower may continue
		// from before this point.
		log.Warn("stream value not in canonical RESP; the shard's backlog starts over after it",
			slog.Int64("offset", off), slog.Int64("bytes", n))
		sh.hist.Reset(off)
		sh.pend = sh.pend[:0]
	case off == end+int64(len(sh.pend)):
		sh.hist.Write(sh.pend)
		sh.pend = sh.pend[:0]
	case off == end:
		// Inside MULTI: the offset moves at EXEC.
	default:
		sh.hist.Reset(off)
		sh.pend = sh.pend[:0]
	}
	if cap(sh.pend) > 1<<20 {
		sh.pend = nil // do not keep one huge transaction's buffer
	}
}

// takeHist hands the backlog over (promotion), ending at off.
func (sh *shard) takeHist(off int64) *primary.Backlog {
	sh.histMu.Lock()
	defer sh.histMu.Unlock()
	h := sh.hist
	sh.hist, sh.pend = nil, nil
	if h != nil && h.End() != off {
		h.Reset(off)
	}
	return h
}

// giveHist takes a backlog back (demotion).
func (sh *shard) giveHist(b *primary.Backlog) {
	sh.histMu.Lock()
	sh.hist, sh.pend = b, nil
	sh.histMu.Unlock()
}

// histInfo is the backlog's extent for INFO: first byte offset and length.
func (sh *shard) histInfo() (first, histlen, size int64, ok bool) {
	sh.histMu.Lock()
	defer sh.histMu.Unlock()
	if sh.hist == nil {
		return 0, 0, 0, false
	}
	return sh.hist.End() - sh.hist.Len() + 1, sh.hist.Len(), sh.hist.Size(), true
}

// writeShardBacklog writes INFO's repl_backlog_* fields for the stream the
// shard keeps (Redis 7.0 keeps the backlog on a replica too, for PSYNC2).
func writeShardBacklog(b *strings.Builder, sh *shard) {
	first, histlen, size, ok := sh.histInfo()
	if !ok {
		b.WriteString("repl_backlog_active:0\r\nrepl_backlog_size:0\r\nrepl_backlog_first_byte_offset:0\r\nrepl_backlog_histlen:0\r\n")
		return
	}
	fmt.Fprintf(b, "repl_backlog_active:1\r\nrepl_backlog_size:%d\r\nrepl_backlog_first_byte_offset:%d\r\nrepl_backlog_histlen:%d\r\n", size, first, histlen)
}
