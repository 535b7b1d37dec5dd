package slot

import (
	"context"
	"log/slog"

	"github.com/replsm/replsm/fsm"
)

type outputKind uint8

const (
	outRecord outputKind = iota
	outSync
	outClose
	outExhausted
	outJournalError
)

// output is a record or an effect decided under the slot lock and carried
// out after it is released.
type output struct {
	kind    outputKind
	rec     Record
	session Session
	full    bool
	reason  string
}

// unlockAndFlush releases s.mu and hands out what the transitions decided.
func (s *Slot) unlockAndFlush() { s.box.UnlockAndFlush(&s.mu, s.deliver) }

func (s *Slot) deliver(o *output) {
	rt := s.rt
	switch o.kind {
	case outRecord:
		level := slog.LevelInfo
		if o.rec.To == Error {
			level = slog.LevelWarn
		}
		fsm.Log(context.Background(), rt.log, level, o.rec)
		for _, obs := range rt.opts.Observers {
			obs(o.rec)
		}
	case outSync:
		req := Request{Slot: s.id, Endpoint: s.endpoint, Session: o.session, Full: o.full}
		if err := rt.opts.Driver.Sync(req); err != nil {
			// The request never left: the session fails now, if still live.
			_ = s.FailUnreached(o.session, "send sync request: "+err.Error())
		}
	case outClose:
		rt.opts.Driver.Close(s.id, o.session, o.reason)
	case outExhausted:
		ex := Exhaustion{Slot: s.id, Endpoint: s.endpoint, LastError: o.rec.Reason, Record: o.rec}
		rt.Log(slog.LevelError, "slot recovery budget exhausted; operator reset needed",
			slog.String("id", s.id.String()), slog.String("endpoint", s.endpoint),
			slog.String("last_error", string(o.rec.Event)+": "+o.rec.Reason))
		if rt.opts.OnExhausted != nil {
			rt.opts.OnExhausted(ex)
		}
	case outJournalError:
		rt.Log(slog.LevelError, "journal failed",
			slog.String("id", s.id.String()), slog.Uint64("seq", o.rec.Seq), slog.String("error", o.reason))
	}
}

// Log writes a message to the runtime's logger stamped with the runtime's
// clock (slog would use the wall clock), for the slots and their owner.
func (rt *Runtime) Log(level slog.Level, msg string, attrs ...slog.Attr) {
	ctx := context.Background()
	if !rt.log.Enabled(ctx, level) {
		return
	}
	r := slog.NewRecord(rt.clock.Now(), level, msg, 0)
	r.AddAttrs(attrs...)
	_ = rt.log.Handler().Handle(ctx, r)
}
