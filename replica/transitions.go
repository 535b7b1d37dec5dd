package replica

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/replsm/replsm/fsm"
	"github.com/replsm/replsm/slot"
)

type effectKind uint8

const (
	effRecord effectKind = iota
	effMetaSync
	effMetaClose
	effSlotsUp
	effSlotsDown
	effExhausted
	effJournalError
)

// effect is a record or an action decided under the instance lock and
// carried out after it.
type effect struct {
	kind    effectKind
	rec     Record
	session slot.Session
	master  string
	reason  string
}

type env Instance

func (e *env) Now() time.Time { return e.rt.Clock().Now() }

// Emit fills the record in ahead of the effects its transition decided.
func (e *env) Emit(rec Record) {
	e.box.At(e.recAt).rec = rec
	if j := e.opts.Journal; j != nil {
		if err := j(rec); err != nil {
			e.box.Put(effect{kind: effJournalError, rec: rec, reason: err.Error()})
		}
	}
	for i := e.recAt + 1; i < e.box.Len(); i++ {
		if x := e.box.At(i); x.kind == effExhausted {
			x.rec = rec
		}
	}
}

func (in *Instance) fire(ev Event, reason string, attrs ...slog.Attr) (Record, error) {
	return in.m.Fire(ev, reason, (*env)(in), attrs...)
}

func (in *Instance) unlockAndFlush() { in.box.UnlockAndFlush(&in.mu, in.carryOut) }

func (e *env) Entered(m *fsm.Machine[State, Event], rec Record) Record {
	in := (*Instance)(e)
	in.recAt = in.box.Len()
	in.box.Put(effect{kind: effRecord})
	now := rec.Time
	from, to := rec.From, rec.To
	if from == Connecting || from == Connected {
		rec.Attrs = append(rec.Attrs, slog.Uint64("session", uint64(in.session)))
	}
	if from != to {
		in.disarm()
		in.enteredAt = now
		if from == Connected {
			if in.budget.Disconnected(now) {
				in.backoffStep = 0
			}
			in.box.Put(effect{kind: effSlotsDown, reason: "instance " + string(rec.Event)})
		}
		if ((from == Connecting && to != Connected) || from == Connected) && in.session != 0 {
			in.box.Put(effect{kind: effMetaClose, session: in.session, reason: string(rec.Event)})
			in.session = 0
		}
	}
	switch to {
	case NoConnect:
		if rec.Event == EvRemoveMaster {
			in.master = ""
		} else if in.master != "" {
			m.Then(EvSlaveOf, "reconnect to "+in.master)
		}
	case Connect:
		if rec.Event == EvSlaveOf {
			in.connectStep = 0
			m.Then(EvSendMeta, "")
			break
		}
		delay := in.cfg.ConnectBackoff.Delay(in.connectStep, in.random())
		in.connectStep++
		in.arm(now.Add(delay))
		rec.Attrs = append(rec.Attrs, slog.Duration("retry_in", delay))
	case Connecting:
		in.lastSession++
		in.session = in.lastSession
		rec.Attrs = append(rec.Attrs, slog.Uint64("session", uint64(in.session)))
		in.arm(now.Add(in.cfg.MetaTimeout))
		in.box.Put(effect{kind: effMetaSync, session: in.session, master: in.master})
	case Connected:
		in.connectStep = 0
		in.exhausted = false
		in.budget.Connected(now)
		in.lastActivity = now
		if in.cfg.IdleTimeout > 0 {
			in.arm(now.Add(in.cfg.IdleTimeout))
		}
		in.box.Put(effect{kind: effSlotsUp})
	case Error:
		in.lastErr = string(rec.Event) + ": " + rec.Reason
		if in.budget.Remaining() == 0 {
			in.exhausted = true
			rec.Attrs = append(rec.Attrs, slog.String("exhausted", fmt.Sprintf("%d/%d", in.budget.Used(), in.budget.Cap())))
			in.box.Put(effect{kind: effExhausted})
			break
		}
		delay := in.cfg.Backoff.Delay(in.backoffStep, in.random())
		in.arm(now.Add(delay))
		rec.Attrs = append(rec.Attrs,
			slog.String("attempt", fmt.Sprintf("%d/%d", in.budget.Used()+1, in.budget.Cap())),
			slog.Duration("retry_in", delay))
	}
	return rec
}

func (in *Instance) arm(at time.Time) {
	in.deadline, in.armed = at, true
	in.sched.Arm(in, at)
}

func (in *Instance) disarm() {
	if in.armed {
		in.armed = false
		in.sched.Cancel(in)
	}
}

func (in *Instance) onDeadline(at time.Time) {
	in.mu.Lock()
	if !in.armed || !in.deadline.Equal(at) {
		in.mu.Unlock()
		return
	}
	in.armed = false
	now := in.rt.Clock().Now()
	switch in.m.State() {
	case Connect:
		in.fire(EvSendMeta, "")
	case Connecting:
		in.fire(EvMetaTimeout, "no meta reply in "+in.cfg.MetaTimeout.String())
	case Connected:
		if due := in.lastActivity.Add(in.cfg.IdleTimeout); now.Before(due) {
			in.arm(due)
		} else {
			in.fire(EvIdleTimeout, "nothing from the master in "+in.cfg.IdleTimeout.String())
		}
	case Error:
		if attempt, ok := in.budget.Take(); ok {
			in.backoffStep++
			in.fire(EvRecover, "recovery timer", slog.String("attempt", fmt.Sprintf("%d/%d", attempt, in.budget.Cap())))
		}
	}
	in.unlockAndFlush()
}

func (in *Instance) carryOut(e *effect) {
	switch e.kind {
	case effRecord:
		level := slog.LevelInfo
		if e.rec.To == Error {
			level = slog.LevelWarn
		}
		fsm.Log(context.Background(), in.rt.Logger(), level, e.rec)
		for _, o := range in.opts.Observers {
			o(e.rec)
		}
	case effMetaSync:
		if err := in.drv.MetaSync(MetaRequest{Master: e.master, Session: e.session}); err != nil {
			_ = in.MetaFailed(e.session, "send meta: "+err.Error())
		}
	case effMetaClose:
		in.drv.MetaClose(e.session, e.reason)
	case effSlotsUp:
		// The instance may have moved on since; the slots check for themselves.
		if in.State() == Connected {
			for _, s := range in.Slots() {
				s.LinkUp()
			}
		}
	case effSlotsDown:
		for _, s := range in.Slots() {
			s.LinkDown(e.reason)
		}
	case effExhausted:
		in.rt.Log(slog.LevelError, "instance recovery budget exhausted; operator reset needed",
			slog.String("master", in.masterAddr()), slog.String("last_error", in.lastError()))
		if in.opts.OnExhausted != nil {
			in.opts.OnExhausted(e.rec)
		}
	case effJournalError:
		in.rt.Log(slog.LevelError, "journal failed", slog.Uint64("seq", e.rec.Seq), slog.String("error", e.reason))
	}
}
