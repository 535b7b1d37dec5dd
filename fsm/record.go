package fsm

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// Record is one applied transition. Records of one machine carry
// consecutive sequence numbers, and each one's From is the previous one's To.
type Record[S ~string, E ~string] struct {
	Machine string    // spec name, e.g. "slot"
	ID      string    // entity id, e.g. "slot/3"
	Seq     uint64    // per machine, from 1, no gaps
	Event   E         // what happened
	From    S         // state before
	To      S         // state after (equal to From for a legal self-loop)
	Time    time.Time // from the owner's injected clock
	Reason  string    // why, in words: "reply timeout after 10s", "EOF from primary"
	Attrs   []slog.Attr
}

// Attr returns the value of the named extra attribute.
func (r Record[S, E]) Attr(key string) (slog.Value, bool) {
	for _, a := range r.Attrs {
		if a.Key == key {
			return a.Value, true
		}
	}
	return slog.Value{}, false
}

// String renders the record without its time, in a stable one-line form:
//
//	slot/1 #4 reply_timeout WaitReply -> Error session=3 attempt=1/5 reason="no reply in 10s"
func (r Record[S, E]) String() string {
	var b strings.Builder
	b.WriteString(r.ID)
	b.WriteString(" #")
	b.WriteString(strconv.FormatUint(r.Seq, 10))
	b.WriteByte(' ')
	b.WriteString(string(r.Event))
	b.WriteByte(' ')
	b.WriteString(string(r.From))
	b.WriteString(" -> ")
	b.WriteString(string(r.To))
	for _, a := range r.Attrs {
		b.WriteByte(' ')
		b.WriteString(a.Key)
		b.WriteByte('=')
		writeValue(&b, a.Value.String())
	}
	if r.Reason != "" {
		b.WriteString(" reason=")
		writeValue(&b, r.Reason)
	}
	return b.String()
}

func writeValue(b *strings.Builder, v string) {
	if v == "" || strings.ContainsAny(v, " \t\"=") {
		b.WriteString(strconv.Quote(v))
		return
	}
	b.WriteString(v)
}

// Log writes the record to logger at level, stamped with the record's own
// time (from the injected clock) rather than the wall clock slog would use.
// It costs one Enabled call when the level is discarded.
func Log[S ~string, E ~string](ctx context.Context, logger *slog.Logger, level slog.Level, r *Record[S, E]) {
	if logger == nil || !logger.Enabled(ctx, level) {
		return
	}
	rec := slog.NewRecord(r.Time, level, "transition", 0)
	rec.AddAttrs(
		slog.String("machine", r.Machine),
		slog.String("id", r.ID),
		slog.Uint64("seq", r.Seq),
		slog.String("event", string(r.Event)),
		slog.String("from", string(r.From)),
		slog.String("to", string(r.To)),
	)
	rec.AddAttrs(r.Attrs...)
	if r.Reason != "" {
		rec.AddAttrs(slog.String("reason", r.Reason))
	}
	_ = logger.Handler().Handle(ctx, rec)
}
