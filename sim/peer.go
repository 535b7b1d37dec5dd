package sim

import (
	"errors"
	"fmt"
	"time"

	"github.com/replsm/replsm/follower"
	"github.com/replsm/replsm/replica"
	"github.com/replsm/replsm/slot"
)

// PeerMode is how the scripted primary answers a slot's sync requests.
type PeerMode string

// Peer modes.
const (
	PeerOK         PeerMode = "ok"         // incremental: sync_ok; full: snapshot, then done after the transfer time
	PeerPurged     PeerMode = "purged"     // incremental: need_full_sync; full: as ok
	PeerFullResync PeerMode = "fullresync" // incremental answered with a snapshot (Redis +FULLRESYNC)
	PeerSilent     PeerMode = "silent"     // never answers
	PeerRefuse     PeerMode = "refuse"     // the request cannot be sent: connection refused
	PeerStall      PeerMode = "stall"      // starts a snapshot and never finishes it
	PeerBusy       PeerMode = "busy"       // alive but not ready: answers every request with -LOADING
	PeerError      PeerMode = "error"      // answers every request with an error reply (reached, failed)
	PeerBreak      PeerMode = "break"      // starts a snapshot, then the transfer breaks
)

var peerModes = map[PeerMode]bool{
	PeerOK: true, PeerPurged: true, PeerFullResync: true, PeerSilent: true, PeerRefuse: true,
	PeerStall: true, PeerBusy: true, PeerError: true, PeerBreak: true,
}

// MetaMode is how the scripted master answers the meta handshake.
type MetaMode string

// Meta modes.
const (
	MetaOK     MetaMode = "ok"
	MetaSilent MetaMode = "silent"
	MetaRefuse MetaMode = "refuse"
	MetaFatal  MetaMode = "fatal"
)

var metaModes = map[MetaMode]bool{MetaOK: true, MetaSilent: true, MetaRefuse: true, MetaFatal: true}

var errRefused = errors.New("connection refused")

// action is a peer reply due at a time.
type action struct {
	at   time.Time
	seq  int
	desc string
	run  func()
}

// driver is the scripted peer: it logs every effect and answers per mode.
type driver struct {
	sim *Sim
}

func (d driver) Sync(req slot.Request) error {
	s := d.sim
	kind := "incremental"
	if req.Full {
		kind = "full"
	}
	s.logf("  > sync %s session=%d %s", req.Slot, req.Session, kind)
	mode := s.peerMode(req.Slot)
	in := s.Inst
	switch {
	case mode == PeerRefuse:
		return errRefused
	case mode == PeerSilent:
		return nil
	case mode == PeerStall:
		s.later(0, func() { _, _ = in.Deliver(req.Slot, req.Session, slot.EvDBSyncStarted, "snapshot started") })
	case mode == PeerBusy:
		s.later(0, func() {
			_, _ = in.Deliver(req.Slot, req.Session, slot.EvBusy, "-LOADING Redis is loading the dataset in memory")
		})
	case mode == PeerError:
		s.later(0, func() { _, _ = in.Deliver(req.Slot, req.Session, slot.EvFail, "-ERR sync refused") })
	case mode == PeerBreak:
		s.later(0, func() { _, _ = in.Deliver(req.Slot, req.Session, slot.EvDBSyncStarted, "snapshot started") })
		s.later(s.transfer/2, func() { _, _ = in.Deliver(req.Slot, req.Session, slot.EvFail, "transfer broke: EOF") })
	case !req.Full && mode == PeerOK:
		s.later(0, func() { _, _ = in.Deliver(req.Slot, req.Session, slot.EvSyncOK, "") })
		s.heartbeat(req.Slot, req.Session)
	case !req.Full && mode == PeerPurged:
		s.later(0, func() { _, _ = in.Deliver(req.Slot, req.Session, slot.EvNeedFullSync, "cursor purged") })
	default: // full request, or fullresync answer to an incremental one
		reason := "snapshot started"
		if !req.Full {
			reason = "+FULLRESYNC: replication id mismatch"
		}
		s.later(0, func() { _, _ = in.Deliver(req.Slot, req.Session, slot.EvDBSyncStarted, reason) })
		s.later(s.transfer, func() { _, _ = in.Deliver(req.Slot, req.Session, slot.EvDBSyncDone, "snapshot loaded") })
		s.heartbeat(req.Slot, req.Session)
	}
	return nil
}

// Probe is the scripted peer's reachability probe: it answers after
// probeLatency, ok unless the slot's peer refuses connections. Only a probe
// that finds the peer is logged (a long outage would fill the log with
// refused ones; info counts them all).
func (d driver) Probe(req slot.ProbeRequest) {
	s := d.sim
	s.later(probeLatency, func() {
		sl, err := s.Inst.Slot(req.Slot)
		if err != nil {
			return
		}
		if s.peerMode(req.Slot) == PeerRefuse {
			_ = sl.ProbeResult(req.Probe, errRefused)
			return
		}
		s.logf("  > probe %s probe=%d: answers", req.Slot, req.Probe)
		_ = sl.ProbeResult(req.Probe, nil)
	})
}

// probeLatency is how long the scripted peer takes to answer a probe.
const probeLatency = 10 * time.Millisecond

func (d driver) Close(id slot.ID, sess slot.Session, reason string) {
	d.sim.logf("  > close %s session=%d (%s)", id, sess, reason)
}

func (d driver) MetaSync(req replica.MetaRequest) error {
	s := d.sim
	s.logf("  > meta session=%d master=%s", req.Session, req.Master)
	switch s.meta {
	case MetaRefuse:
		return errRefused
	case MetaFatal:
		s.later(0, func() { _ = s.Inst.Fatal(req.Session, "replication id mismatch") })
	case MetaOK:
		s.later(0, func() { _ = s.Inst.MetaOK(req.Session) })
	}
	return nil
}

func (d driver) MetaClose(sess slot.Session, reason string) {
	d.sim.logf("  > meta-close session=%d (%s)", sess, reason)
}

// heartbeatEvery is how often the scripted primary pings a live session,
// as Redis's repl-ping-replica-period does.
const heartbeatEvery = 10 * time.Second

// heartbeat pings session sess every heartbeatEvery until the slot stops
// accepting it (a new session, or a state without a stream), or the peer
// goes silent.
func (s *Sim) heartbeat(id slot.ID, sess slot.Session) {
	s.later(heartbeatEvery, func() {
		sl, err := s.Inst.Slot(id)
		if err != nil || s.peerMode(id) == PeerSilent || s.peerMode(id) == PeerStall {
			return
		}
		if sl.Session() != sess {
			return
		}
		if sl.Data(sess) == nil {
			s.heartbeat(id, sess)
		}
	})
}

func (s *Sim) peerMode(id slot.ID) PeerMode {
	if m, ok := s.peers[id]; ok {
		return m
	}
	return s.defaultPeer
}

// later queues a peer reply after d. Replies are never run inside the
// driver call: a real peer answers over the wire, after the request.
func (s *Sim) later(d time.Duration, run func()) {
	s.actionSeq++
	s.pending = append(s.pending, action{at: s.Clock.Now().Add(d), seq: s.actionSeq, run: run})
}

func (s *Sim) setPeer(target string, mode PeerMode) error {
	if !peerModes[mode] {
		return fmt.Errorf("%w: unknown peer mode %q", ErrBadCommand, mode)
	}
	if target == "all" {
		s.defaultPeer = mode
		clear(s.peers)
		return nil
	}
	id, err := parseSlot(target)
	if err != nil {
		return err
	}
	s.peers[id] = mode
	return nil
}

// followerDriver is the follower machines' driver: it logs the connection
// the primary side would close.
type followerDriver struct{ sim *Sim }

func (d followerDriver) Close(id string, sess follower.Session, reason string) {
	d.sim.logf("  > close follower/%s session=%d (%s)", id, sess, reason)
}
