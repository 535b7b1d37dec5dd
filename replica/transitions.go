package replica

import (
	"log/slog"
	"time"

	"github.com/replsm/replsm/host"
)

// Effect codes of the instance (host.Output.Code).
const (
	effMetaSync uint8 = iota
	effMetaClose
	effSlotsUp
	effSlotsDown
	effRefillSlots
)

type output = host.Output[State, Event]

// owner is the Instance seen as its host's owner.
type owner Instance

func (o *owner) Entered(rec *Record) {
	in := (*Instance)(o)
	now := rec.Time
	from, to := rec.From, rec.To
	if from == Connecting || from == Connected {
		rec.Attrs = append(rec.Attrs, slog.Uint64("session", uint64(in.session)))
	}
	if from != to {
		if from == Connected {
			in.Unhealthy(now)
			in.Queue(output{Kind: host.OutEffect, Code: effSlotsDown, Reason: "instance " + string(rec.Event)})
		}
		if ((from == Connecting && to != Connected) || from == Connected) && in.session != 0 {
			in.Queue(output{Kind: host.OutEffect, Code: effMetaClose, Session: in.session, Reason: string(rec.Event)})
			in.session = 0
		}
	}
	switch to {
	case NoConnect:
		if rec.Event == EvRemoveMaster {
			in.master = ""
		} else if in.master != "" {
			in.M.Then(EvSlaveOf, "reconnect to "+in.master)
		}
	case Connect:
		if rec.Event == EvSlaveOf {
			in.connectStep = 0
			in.M.Then(EvSendMeta, "")
			break
		}
		delay := in.cfg.ConnectBackoff.Delay(in.connectStep, in.Random())
		in.connectStep++
		in.Arm(now.Add(delay))
		rec.Attrs = append(rec.Attrs, slog.Duration("retry_in", delay))
	case Connecting:
		in.session = in.rt.Host().NewSession()
		rec.Attrs = append(rec.Attrs, slog.Uint64("session", uint64(in.session)))
		in.Arm(now.Add(in.cfg.MetaTimeout))
		in.Queue(output{Kind: host.OutEffect, Code: effMetaSync, Session: in.session, Peer: in.master})
	case Connected:
		in.connectStep = 0
		in.Healthy(now)
		in.lastActivity = now
		if in.cfg.IdleTimeout > 0 {
			in.Arm(now.Add(in.cfg.IdleTimeout))
		}
		in.Queue(output{Kind: host.OutEffect, Code: effSlotsUp})
	case Error:
		// A fatal mismatch was an answer from the master: reachability does
		// not cure it, so no probes.
		in.EnterError(rec, &host.Recovery{Backoff: in.cfg.Backoff, ExhaustedRetry: in.cfg.ExhaustedRetry}, false, false)
	}
	if in.refillSlots != "" {
		// After effSlotsDown: a slot reset from Error must not start
		// before the new link is up.
		in.Queue(output{Kind: host.OutEffect, Code: effRefillSlots, Reason: in.refillSlots})
		in.refillSlots = ""
	}
}

func (o *owner) Due(now time.Time) {
	in := (*Instance)(o)
	switch in.M.State() {
	case Connect:
		in.Fire(EvSendMeta, "")
	case Connecting:
		in.Fire(EvMetaTimeout, "no meta reply in "+in.cfg.MetaTimeout.String())
	case Connected:
		// Shard data counts as activity: a stream proves the master lives.
		last := in.lastActivity
		if d := in.rt.Host().LastData(); d.After(last) {
			last = d
		}
		if due := last.Add(in.cfg.IdleTimeout); now.Before(due) {
			in.Arm(due)
		} else {
			in.Fire(EvIdleTimeout, "nothing from the master in "+in.cfg.IdleTimeout.String())
		}
	case Error:
		if attempt, reason, _ := in.ErrorDue(now); attempt != "" {
			in.Fire(EvRecover, reason, slog.String(host.AttrAttempt, attempt))
		}
	}
}

func (o *owner) Effect(e *output) {
	in := (*Instance)(o)
	switch e.Kind {
	case host.OutExhausted:
		in.rt.Log(slog.LevelError, "instance recovery budget exhausted; "+e.Reason,
			slog.String("master", in.masterAddr()), slog.String("last_error", string(e.Rec.Event)+": "+e.Rec.Reason))
		if in.opts.OnExhausted != nil {
			in.opts.OnExhausted(e.Rec)
		}
		return
	case host.OutEffect:
	default:
		return
	}
	switch e.Code {
	case effMetaSync:
		if err := in.drv.MetaSync(MetaRequest{Master: e.Peer, Session: e.Session}); err != nil {
			_ = in.MetaFailed(e.Session, "send meta: "+err.Error())
		}
	case effMetaClose:
		in.drv.MetaClose(e.Session, e.Reason)
	case effSlotsUp:
		// The instance may have moved on since; the slots check for themselves.
		if in.State() == Connected {
			for _, s := range in.Slots() {
				s.LinkUp()
			}
		}
	case effSlotsDown:
		for _, s := range in.Slots() {
			s.LinkDown(e.Reason)
		}
	case effRefillSlots:
		for _, s := range in.Slots() {
			s.Refill(e.Reason)
		}
	}
}
