package replica

import (
	"github.com/replsm/replsm/fsm"
	"github.com/replsm/replsm/timeouts"
)

// State is the instance-level replication state.
type State string

// The instance states (the seed's five).
const (
	NoConnect  State = "NoConnect"
	Connect    State = "Connect"
	Connecting State = "Connecting"
	Connected  State = "Connected"
	Error      State = "Error"
)

// Event is something that happens to the instance link.
type Event string

// Instance events.
const (
	EvSlaveOf      Event = "slaveof"
	EvSendMeta     Event = "send_meta"
	EvMetaOK       Event = "meta_ok"
	EvMetaFailed   Event = "meta_failed"
	EvMetaTimeout  Event = "meta_timeout"
	EvLinkLost     Event = "link_lost"
	EvIdleTimeout  Event = "idle_timeout"
	EvFatal        Event = "fatal"
	EvRecover      Event = "recover"
	EvReset        Event = "reset"
	EvRemoveMaster Event = "remove_master"
)

// Spec is the instance machine, with timer labels from cfg.
func Spec(cfg Config) fsm.Spec[State, Event] {
	idle := "idle timeout"
	if cfg.IdleTimeout > 0 {
		idle = timeouts.Label(cfg.IdleTimeout)
	}
	return fsm.Spec[State, Event]{
		Name: "instance",
		Doc:  "The replica instance's link to its master: meta handshake first, then every shard starts; fatal mismatches go to Error, which recovers on its own with capped retries.",
		States: []fsm.State[State]{
			{Name: NoConnect, Kind: fsm.KindInitial, Doc: "no master configured"},
			{Name: Connect, Doc: "master configured; (re)connecting after a backoff"},
			{Name: Connecting, Doc: "meta handshake sent; waiting for its reply"},
			{Name: Connected, Doc: "meta handshake done; shards sync on their own"},
			{Name: Error, Kind: fsm.KindError, Doc: "fatal mismatch (auth, replication id, topology); recovers after a backoff while the budget lasts, then at a slow cadence"},
		},
		Transitions: []fsm.Transition[State, Event]{
			{Event: EvSlaveOf, Src: []State{NoConnect, Connect, Connecting, Connected, Error}, Dst: Connect, Doc: "operator set the master (or recovery reconnects to it)"},
			{Event: EvSendMeta, Src: []State{Connect}, Dst: Connecting, Timer: "backoff", Doc: "meta handshake sent under a new session"},
			{Event: EvMetaOK, Src: []State{Connecting}, Dst: Connected, Doc: "master accepted the meta handshake"},
			{Event: EvMetaFailed, Src: []State{Connecting}, Dst: Connect, Doc: "connect or handshake failed; retry after a backoff"},
			{Event: EvMetaTimeout, Src: []State{Connecting}, Dst: Connect, Timer: timeouts.Label(cfg.MetaTimeout), Doc: "no meta reply"},
			{Event: EvLinkLost, Src: []State{Connected}, Dst: Connect, Doc: "the link to the master closed"},
			{Event: EvIdleTimeout, Src: []State{Connected}, Dst: Connect, Timer: idle, Doc: "nothing heard from the master"},
			{Event: EvFatal, Src: []State{Connect, Connecting, Connected}, Dst: Error, Doc: "auth, replication id or topology mismatch"},
			{Event: EvRecover, Src: []State{Error}, Dst: NoConnect, Guard: "budget left, or exhausted retry", Timer: "backoff", Doc: "retry after a backoff while the budget lasts, then every ExhaustedRetry"},
			{Event: EvReset, Src: []State{Error}, Dst: NoConnect, Doc: "operator reset; budget refilled"},
			{Event: EvRemoveMaster, Src: []State{NoConnect, Connect, Connecting, Connected, Error}, Dst: NoConnect, Doc: "slaveof no one"},
		},
	}
}

var def = fsm.MustCompile(Spec(DefaultConfig()))
