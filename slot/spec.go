package slot

import (
	"github.com/replsm/replsm/fsm"
	"github.com/replsm/replsm/timeouts"
)

// State is a replica shard's replication state.
type State string

// The shard states of docs/DESIGN.md.
const (
	NoConnect  State = "NoConnect"
	TryConnect State = "TryConnect"
	TryDBSync  State = "TryDBSync"
	WaitReply  State = "WaitReply"
	WaitDBSync State = "WaitDBSync"
	Connected  State = "Connected"
	Error      State = "Error"
	Detached   State = "Detached"
)

// Event is something that happens to a replica shard.
type Event string

// The shard events. Replies from the primary are delivered with Slot.Deliver
// (or the named helpers); timers and operator commands raise the others.
const (
	EvStart            Event = "start"
	EvStartFullSync    Event = "start_full_sync"
	EvSendTrySync      Event = "send_try_sync"
	EvSendDBSync       Event = "send_db_sync"
	EvSyncOK           Event = "sync_ok"
	EvNeedFullSync     Event = "need_full_sync"
	EvDBSyncStarted    Event = "db_sync_started"
	EvDBSyncDone       Event = "db_sync_done"
	EvDBSyncLoaded     Event = "db_sync_loaded"
	EvBusy             Event = "busy"
	EvBusyFull         Event = "busy_full"
	EvKeepaliveTimeout Event = "keepalive_timeout"
	EvStaleDataSession Event = "stale_data_session"
	EvReplyTimeout     Event = "reply_timeout"
	EvTransferStalled  Event = "transfer_stalled"
	EvFail             Event = "fail"
	EvRecover          Event = "recover"
	EvLinkLost         Event = "link_lost"
	EvReset            Event = "reset"
	EvDetach           Event = "detach"
	EvResume           Event = "resume"
	EvRepoint          Event = "repoint"
)

// active states hold or are about to hold a session with the primary.
var active = []State{TryConnect, TryDBSync, WaitReply, WaitDBSync, Connected}

// Spec is the replica shard machine, with timer labels from cfg. The code
// runs the Def compiled from Spec(DefaultConfig()); the labels are the only
// part that depends on the configuration.
func Spec(cfg Config) fsm.Spec[State, Event] {
	return fsm.Spec[State, Event]{
		Name: "slot",
		Doc:  "Replica side of one shard: asks its primary for incremental or full sync, streams, and recovers from Error on its own with capped, backed-off retries.",
		States: []fsm.State[State]{
			{Name: NoConnect, Kind: fsm.KindInitial, Doc: "idle; waits until the instance link is up"},
			{Name: TryConnect, Doc: "ready to ask for incremental sync from the saved cursor"},
			{Name: TryDBSync, Doc: "ready to ask for a full sync"},
			{Name: WaitReply, Doc: "request sent under a new session; waiting for its reply"},
			{Name: WaitDBSync, Doc: "full snapshot transfer or load in progress"},
			{Name: Connected, Doc: "streaming from the primary"},
			{Name: Error, Kind: fsm.KindError, Doc: "failed; recovers to NoConnect after a backoff while the budget lasts, then at a slow cadence; a successful probe recovers it at once"},
			{Name: Detached, Doc: "taken out by the operator; nothing automatic happens"},
		},
		Transitions: []fsm.Transition[State, Event]{
			{Event: EvStart, Src: []State{NoConnect}, Dst: TryConnect, Guard: "link up", Doc: "instance link is up; incremental sync next"},
			{Event: EvStartFullSync, Src: []State{NoConnect}, Dst: TryDBSync, Guard: "link up, full sync due", Doc: "instance link is up and a full sync is due"},
			{Event: EvSendTrySync, Src: []State{TryConnect}, Dst: WaitReply, Doc: "incremental sync requested under a new session"},
			{Event: EvSendDBSync, Src: []State{TryDBSync}, Dst: WaitReply, Doc: "full sync requested under a new session"},
			{Event: EvSyncOK, Src: []State{WaitReply}, Dst: Connected, Doc: "primary accepted the incremental sync"},
			{Event: EvNeedFullSync, Src: []State{WaitReply}, Dst: TryDBSync, Doc: "cursor purged or replication id mismatch"},
			{Event: EvDBSyncStarted, Src: []State{WaitReply}, Dst: WaitDBSync, Doc: "primary started sending a snapshot"},
			{Event: EvDBSyncDone, Src: []State{WaitDBSync}, Dst: Connected, Doc: "snapshot loaded; the stream continues on the same link"},
			{Event: EvDBSyncLoaded, Src: []State{WaitDBSync}, Dst: TryConnect, Doc: "snapshot loaded; a fresh incremental handshake follows"},
			{Event: EvBusy, Src: []State{WaitReply}, Dst: TryConnect, Timer: "poll " + timeouts.Label(cfg.BusyPoll), Doc: "primary alive but not ready (-LOADING): ask again after a short poll, no budget spent"},
			{Event: EvBusyFull, Src: []State{WaitReply}, Dst: TryDBSync, Timer: "poll " + timeouts.Label(cfg.BusyPoll), Doc: "as busy, for a full-sync request"},
			{Event: EvKeepaliveTimeout, Src: []State{Connected}, Dst: TryConnect, Timer: timeouts.Label(cfg.KeepaliveTimeout), Doc: "nothing received for the keepalive timeout"},
			{Event: EvStaleDataSession, Src: []State{Connected}, Dst: TryConnect, Doc: "data arrived under another session"},
			{Event: EvReplyTimeout, Src: []State{WaitReply}, Dst: Error, Timer: timeouts.Label(cfg.ReplyTimeout), Doc: "no reply to the sync request"},
			{Event: EvTransferStalled, Src: []State{WaitDBSync}, Dst: Error, Timer: timeouts.Label(cfg.TransferIdleTimeout), Doc: "snapshot transfer made no progress"},
			{Event: EvFail, Src: active, Dst: Error, Doc: "the request, transfer or stream failed"},
			{Event: EvRecover, Src: []State{Error}, Dst: NoConnect, Guard: "budget left, exhausted retry, or probe ok", Timer: "backoff", Doc: "retry after a backoff while the budget lasts, then every ExhaustedRetry; at once when a probe, a sibling or the instance link shows the endpoint answers"},
			{Event: EvLinkLost, Src: active, Dst: NoConnect, Doc: "the instance link went down"},
			{Event: EvReset, Src: []State{Error}, Dst: NoConnect, Doc: "operator reset; the retry budget is refilled"},
			{Event: EvDetach, Src: append([]State{NoConnect, Error}, active...), Dst: Detached, Doc: "operator took the shard out"},
			{Event: EvResume, Src: []State{Detached}, Dst: NoConnect, Doc: "operator put the shard back"},
			{Event: EvRepoint, Src: append([]State{NoConnect, Error}, active...), Dst: NoConnect, Doc: "re-pointed at another primary; the budget is refilled and the cursor kept"},
		},
	}
}

// def is the compiled shard machine every Slot runs.
var def = fsm.MustCompile(Spec(DefaultConfig()))

// replyEvents are the events a primary's replies may raise through Deliver.
var replyEvents = map[Event]bool{
	EvSyncOK: true, EvNeedFullSync: true, EvDBSyncStarted: true,
	EvDBSyncDone: true, EvDBSyncLoaded: true, EvFail: true, EvBusy: true,
}

// sessionStates hold a live session.
func sessionState(s State) bool { return s == WaitReply || s == WaitDBSync || s == Connected }
