package sentinel

import (
	"fmt"
	"strings"
)

// Kind is what a sentinel said.
type Kind int

const (
	// SwitchMaster: +switch-master, a failover of Master ended; Old was
	// the primary, New is.
	SwitchMaster Kind = iota + 1
	// TryFailover: +try-failover, the sentinel starts failing over Old,
	// the primary of Master.
	TryFailover
	// FailoverAbort: -failover-abort-*, the attempt on Old ended without
	// a new primary (Channel says why).
	FailoverAbort
	// Answer: GET-MASTER-ADDR-BY-NAME answered New for Master (asked when
	// the link comes up and every PollInterval).
	Answer
)

func (k Kind) String() string {
	switch k {
	case SwitchMaster:
		return "+switch-master"
	case TryFailover:
		return "+try-failover"
	case FailoverAbort:
		return "-failover-abort"
	case Answer:
		return "get-master-addr-by-name"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Event is one thing a sentinel said about a watched name.
type Event struct {
	Sentinel string // the sentinel's address, as configured
	Kind     Kind
	Channel  string // the pub/sub channel ("" for Answer)
	Master   string // the monitored name
	Old      string // host:port of the primary before (SwitchMaster, TryFailover, FailoverAbort)
	New      string // host:port of the primary named (SwitchMaster, Answer)
	Payload  string // the message as sent ("" for Answer)
}

// String is the event as the transition log quotes it: which sentinel
// said what.
func (e Event) String() string {
	if e.Kind == Answer {
		return fmt.Sprintf("sentinel %s answered GET-MASTER-ADDR-BY-NAME %s = %s", e.Sentinel, e.Master, e.New)
	}
	return fmt.Sprintf("sentinel %s announced %s %s", e.Sentinel, e.Channel, e.Payload)
}

// Channels the watcher subscribes to, and the pattern of the aborts.
const (
	chanSwitchMaster = "+switch-master"
	chanTryFailover  = "+try-failover"
	patAbort         = "-failover-abort-*"
)

// parseEvent reads a message's payload on channel. ok is false for a
// message that is not about a watched shape (it is logged, not acted on).
func parseEvent(sentinel, channel, payload string) (Event, error) {
	e := Event{Sentinel: sentinel, Channel: channel, Payload: payload}
	f := strings.Fields(payload)
	switch {
	case channel == chanSwitchMaster:
		// <name> <old-ip> <old-port> <new-ip> <new-port>
		if len(f) != 5 {
			return e, fmt.Errorf("%w: %s %q", ErrBadReply, channel, clip(payload))
		}
		old, err1 := hostPort(f[1], f[2])
		nw, err2 := hostPort(f[3], f[4])
		if err1 != nil || err2 != nil {
			return e, fmt.Errorf("%w: %s %q", ErrBadReply, channel, clip(payload))
		}
		e.Kind, e.Master, e.Old, e.New = SwitchMaster, f[0], old, nw
	case channel == chanTryFailover || strings.HasPrefix(channel, "-failover-abort-"):
		// master <name> <ip> <port> (Sentinel's "%@" of a master)
		if len(f) < 4 || f[0] != "master" {
			return e, fmt.Errorf("%w: %s %q", ErrBadReply, channel, clip(payload))
		}
		old, err := hostPort(f[2], f[3])
		if err != nil {
			return e, fmt.Errorf("%w: %s %q", ErrBadReply, channel, clip(payload))
		}
		e.Kind, e.Master, e.Old = TryFailover, f[1], old
		if channel != chanTryFailover {
			e.Kind = FailoverAbort
		}
	default:
		return e, fmt.Errorf("%w: channel %q", ErrBadReply, clip(channel))
	}
	return e, nil
}
