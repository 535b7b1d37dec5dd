package slot

import (
	"log/slog"
	"strconv"
	"time"

	"github.com/replsm/replsm/host"
)

// Effect codes of a slot (host.Output.Code).
const (
	effSync uint8 = iota
	effClose
	effConnected
)

type output = host.Output[State, Event]

// owner is the Slot seen as its host's owner. Everything but Effect runs
// under the slot lock: it decides, and queues what must happen after it.
type owner Slot

// continues reports whether a session goes on across from -> to.
func continues(from, to State) bool {
	return (from == WaitReply && (to == WaitDBSync || to == Connected)) ||
		(from == WaitDBSync && to == Connected) ||
		from == to
}

func (o *owner) Entered(rec *Record) {
	s := (*Slot)(o)
	s.stats.Transitions++
	now := rec.Time
	from, to := rec.From, rec.To

	if sess := s.session; sess != 0 && (sessionState(from) || sessionState(to)) && to != WaitReply {
		rec.Attrs = append(rec.Attrs, slog.Uint64(AttrSession, uint64(sess)))
	}
	if from != to {
		if from == Connected && s.Unhealthy(now) {
			rec.Attrs = append(rec.Attrs, slog.String(host.AttrBudget, "refilled"))
		}
		if sessionState(from) && !continues(from, to) {
			s.Queue(output{Kind: host.OutEffect, Code: effClose, Session: s.session, Reason: closeReason(rec)})
			s.session = 0
		}
		// An aborted snapshot leaves the data in an unknown state, unless
		// the embedding swaps a load in only when it is complete.
		if from == WaitDBSync && to != Connected && rec.Event != EvDBSyncLoaded && !s.cfg.AtomicLoad && !s.fullSyncDue {
			s.fullSyncDue = true
			rec.Attrs = append(rec.Attrs, slog.String(AttrFullSyncDue, "transfer aborted"))
		}
	}

	switch to {
	case NoConnect:
		if s.linkUp {
			if s.fullSyncDue {
				s.M.Then(EvStartFullSync, "full sync due")
			} else {
				s.M.Then(EvStart, "link up")
			}
		}
	case TryConnect, TryDBSync:
		if rec.Event == EvDBSyncLoaded {
			s.stats.FullSyncs++
		}
		if s.busy {
			// The peer is alive but not ready: ask again after a short
			// poll, spending no budget.
			s.busy = false
			s.Arm(now.Add(s.cfg.BusyPoll))
			rec.Attrs = append(rec.Attrs, slog.Duration(AttrPollIn, s.cfg.BusyPoll))
		} else if to == TryConnect {
			s.M.Then(EvSendTrySync, "")
		} else {
			s.M.Then(EvSendDBSync, "")
		}
	case WaitReply:
		s.session = s.rt.host.NewSession()
		s.fullSession = rec.Event == EvSendDBSync
		rec.Attrs = append(rec.Attrs, slog.Uint64(AttrSession, uint64(s.session)))
		s.Arm(now.Add(s.cfg.ReplyTimeout))
		s.Queue(output{Kind: host.OutEffect, Code: effSync, Session: s.session, Full: s.fullSession, Peer: s.endpoint})
	case WaitDBSync:
		s.lastActivity = now
		s.Arm(now.Add(s.cfg.TransferIdleTimeout))
	case Connected:
		s.lastActivity = now
		s.Arm(now.Add(s.cfg.KeepaliveTimeout))
		if from == WaitDBSync {
			s.stats.FullSyncs++
		} else if from == WaitReply {
			s.stats.PartialSyncs++
		}
		s.Healthy(now)
		s.incFailures, s.fullSyncDue = 0, false
		if from != Connected && s.rt.onConnected != nil {
			s.Queue(output{Kind: host.OutEffect, Code: effConnected, Peer: s.endpoint})
		}
	case Error:
		s.enterError(rec, from)
	}
	s.countProbing()
}

// countProbing keeps the runtime's count of probing slots current.
func (s *Slot) countProbing() {
	if p := s.Probing(); p != s.counted {
		s.counted = p
		if p {
			s.rt.probing.Add(1)
		} else {
			s.rt.probing.Add(-1)
		}
	}
}

func closeReason(rec *Record) string {
	if rec.Reason != "" {
		return rec.Reason
	}
	return string(rec.Event)
}

// enterError counts the failure, escalates to full sync after K failed
// incremental attempts that reached the primary, and applies the host's
// recovery policy (backoff, exhaustion, slow cadence, probes).
func (s *Slot) enterError(rec *Record, from State) {
	s.stats.Failures++
	if s.unreached {
		rec.Attrs = append(rec.Attrs, slog.Bool(AttrReached, false))
	} else if from == WaitReply && !s.fullSession {
		s.incFailures++
		if s.incFailures >= s.cfg.FullSyncAfter && !s.fullSyncDue {
			s.fullSyncDue = true
			rec.Attrs = append(rec.Attrs, slog.String(AttrFullSyncDue, strconv.Itoa(s.incFailures)+" incremental failures"))
		}
	}
	before := s.Exhausted
	s.EnterError(rec, s.cfg.recovery(), s.unreached, s.rt.prober != nil)
	if s.Exhausted && !before {
		s.stats.Exhaustions++
	}
}

func (o *owner) Due(now time.Time) {
	s := (*Slot)(o)
	switch st := s.M.State(); st {
	case WaitReply:
		s.Fire(EvReplyTimeout, "no reply in "+s.cfg.ReplyTimeout.String())
	case WaitDBSync:
		s.idleCheck(now, s.cfg.TransferIdleTimeout, EvTransferStalled, "no transfer progress in ")
	case Connected:
		s.idleCheck(now, s.cfg.KeepaliveTimeout, EvKeepaliveTimeout, "nothing received in ")
	case TryConnect:
		s.Fire(EvSendTrySync, "busy poll")
	case TryDBSync:
		s.Fire(EvSendDBSync, "busy poll")
	case Error:
		attempt, reason, probed := s.ErrorDue(now)
		if probed {
			s.stats.Probes++
		}
		if attempt != "" {
			s.recoverNow(reason, slog.String(host.AttrAttempt, attempt))
		}
	}
}

// recoverNow moves Error to NoConnect (and on to a start when the link is up).
func (s *Slot) recoverNow(reason string, attrs ...slog.Attr) {
	s.stats.Recoveries++
	s.Fire(EvRecover, reason, attrs...)
}

// idleCheck fires ev if nothing arrived for limit; otherwise it moves the
// deadline to where the last activity puts it. Activity itself never touches
// the heap, which keeps the data path cheap.
func (s *Slot) idleCheck(now time.Time, limit time.Duration, ev Event, reason string) {
	if due := s.lastActivity.Add(limit); now.Before(due) {
		s.Arm(due)
		return
	}
	s.Fire(ev, reason+limit.String())
}

func (o *owner) Effect(out *output) {
	s := (*Slot)(o)
	rt := s.rt
	switch out.Kind {
	case host.OutEffect:
		switch out.Code {
		case effSync:
			req := Request{Slot: s.id, Endpoint: out.Peer, Session: out.Session, Full: out.Full}
			if err := rt.opts.Driver.Sync(req); err != nil {
				// The request never left: the session fails now, if still live.
				_ = s.FailUnreached(out.Session, "send sync request: "+err.Error())
			}
		case effClose:
			rt.opts.Driver.Close(s.id, out.Session, out.Reason)
		case effConnected:
			rt.onConnected(s, out.Peer)
		}
	case host.OutProbe:
		if rt.prober != nil {
			rt.prober.Probe(ProbeRequest{Slot: s.id, Endpoint: s.Endpoint(), Probe: out.Session})
		}
	case host.OutExhausted:
		ex := Exhaustion{Slot: s.id, Endpoint: s.Endpoint(), LastError: string(out.Rec.Event) + ": " + out.Rec.Reason, Record: out.Rec}
		rt.Log(slog.LevelError, "slot recovery budget exhausted; "+out.Reason,
			slog.String("id", s.id.String()), slog.String("endpoint", ex.Endpoint),
			slog.String("last_error", ex.LastError))
		if rt.opts.OnExhausted != nil {
			rt.opts.OnExhausted(ex)
		}
	}
}
