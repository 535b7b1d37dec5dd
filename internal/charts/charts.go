// Package charts is replsm's statechart registry: the fsm.Chart of every
// machine, built from the very specs the code compiles, the generator of
// docs/statecharts, and the `replsm statechart` command.
//
// The charts use each package's default configuration, so timer labels show
// the default timeouts ("reply_timeout after 10s").
package charts

import (
	"fmt"
	"strings"

	"github.com/replsm/replsm/follower"
	"github.com/replsm/replsm/fsm"
	"github.com/replsm/replsm/replica"
	"github.com/replsm/replsm/slot"
)

// Machine names accepted by Get and by `replsm statechart --machine`.
const (
	Instance  = "instance"
	Slot      = "slot"
	Follower  = "follower"
	Composite = "composite"
)

// ComposedIn is the instance state that the slot machine is drawn inside in
// the composite chart: shards sync only while the instance is Connected.
const ComposedIn = string(replica.Connected)

// Machine is one entry of the registry.
type Machine struct {
	Name  string // as accepted by Get
	Title string // heading in docs/statecharts/README.md
	// About is what the machine means, for people: two sentences in the
	// README.
	About string
	Chart func() (fsm.Chart, error)
}

// Machines returns the registry in the order the docs show it.
func Machines() []Machine {
	return []Machine{
		{
			Name:  Instance,
			Title: "Instance (replica side, one per server)",
			About: "The replica instance's link to its master: `slaveof` sets the master, and the meta handshake " +
				"(Connect → Connecting → Connected) must succeed before any shard starts; a lost or idle link goes back to Connect. " +
				"Fatal mismatches (auth, replication id, topology) go to Error, which recovers on its own after a backoff while the " +
				"retry budget lasts, and `slaveof no one` (remove_master) returns to NoConnect from anywhere.",
			Chart: func() (fsm.Chart, error) { return InstanceChart(), nil },
		},
		{
			Name:  Slot,
			Title: "Slot (replica side, one per shard)",
			About: "Once the instance link is up, a shard asks its primary for an incremental sync from its saved cursor " +
				"(or a full sync when one is due), waits for the reply under a fresh session id, and streams in Connected. " +
				"Every failure lands in Error, which recovers to NoConnect after a backoff while the budget lasts and then once every " +
				"exhausted-retry period; after a failure that never reached the primary, a probe that finds it answering recovers " +
				"the shard at once. A busy primary is asked again on a short poll. Detach/resume take it out of service and back.",
			Chart: func() (fsm.Chart, error) { return SlotChart(), nil },
		},
		{
			Name:  Follower,
			Title: "Follower (primary side, one per follower per shard)",
			About: "The primary's view of one follower of one shard: it starts in NotSync, goes to DBSync when the follower asks " +
				"for a full sync (or straight to BinlogSync when its cursor is still in the backlog), and streams in BinlogSync. " +
				"It is Removed for good when the sync never completes, acks stop for the ack timeout, or the connection closes.",
			Chart: func() (fsm.Chart, error) { return FollowerChart(), nil },
		},
		{
			Name:  Composite,
			Title: "Composite: instance with the slot machine inside Connected",
			About: "The two levels together: every shard runs its own slot machine, drawn inside the instance's Connected " +
				"state because shards start only once the meta handshake is done, and leaving Connected moves every shard back to NoConnect. " +
				"The replication link is up only when the instance is Connected and every shard that is not Detached is Connected too.",
			Chart: CompositeChart,
		},
	}
}

// Names returns the machine names, in registry order.
func Names() []string {
	var out []string
	for _, m := range Machines() {
		out = append(out, m.Name)
	}
	return out
}

// Get returns the chart of the named machine.
func Get(name string) (fsm.Chart, error) {
	for _, m := range Machines() {
		if m.Name == name {
			return m.Chart()
		}
	}
	return fsm.Chart{}, fmt.Errorf("unknown machine %q (want one of %s)", name, strings.Join(Names(), ", "))
}

// InstanceChart is the instance-level machine (package replica).
func InstanceChart() fsm.Chart { return replica.Spec(replica.DefaultConfig()).Chart() }

// SlotChart is the replica-side per-shard machine (package slot).
func SlotChart() fsm.Chart { return slot.Spec(slot.DefaultConfig()).Chart() }

// FollowerChart is the primary-side per-follower machine (package slot).
func FollowerChart() fsm.Chart {
	return follower.Spec(follower.DefaultConfig()).Chart()
}

// CompositeChart is the instance machine with the slot machine nested in its
// Connected state. Overlays on it name nested states by path:
// "Connected/WaitReply".
func CompositeChart() (fsm.Chart, error) {
	return CompositeChartFor(replica.DefaultConfig(), slot.DefaultConfig())
}

// CompositeChartFor is CompositeChart with the timer labels of a running
// configuration ("reply_timeout after 2s"), for a live view.
func CompositeChartFor(inst replica.Config, sl slot.Config) (fsm.Chart, error) {
	c, err := fsm.Compose(replica.Spec(inst).Chart(), ComposedIn, slot.Spec(sl).Chart())
	if err != nil {
		return fsm.Chart{}, err
	}
	c.Name = "instance/slot"
	c.Doc = "The instance machine with one slot machine per shard running inside its Connected state."
	return c, nil
}
