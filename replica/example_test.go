package replica_test

import (
	"context"
	"fmt"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/replsm/replsm/replica"
	"github.com/replsm/replsm/slot"
)

// wire is an embedding's driver: it owns the bytes on the wire. Here the
// "primary" answers every request at once.
type wire struct{ inst *replica.Instance }

func (w *wire) MetaSync(req replica.MetaRequest) error {
	go func() { _ = w.inst.MetaOK(req.Session) }() // a real one reads the reply off a socket
	return nil
}
func (w *wire) MetaClose(slot.Session, string) {}

func (w *wire) Sync(req slot.Request) error {
	// Send PSYNC / TrySync / DBSync for req.Slot under req.Session here.
	go func() { _, _ = w.inst.Deliver(req.Slot, req.Session, slot.EvSyncOK, "") }()
	return nil
}
func (w *wire) Close(slot.ID, slot.Session, string) {} // close that session's connection

func Example() {
	w := &wire{}
	inst, err := replica.New(replica.Options{
		Slot:       slot.Options{Clock: clock.New(), Driver: w},
		Driver:     w,
		Config:     replica.DefaultConfig(),
		SlotConfig: slot.DefaultConfig(),
	})
	if err != nil {
		panic(err)
	}
	w.inst = inst
	for id := slot.ID(0); id < 3; id++ {
		if _, err := inst.AddSlot(id, ""); err != nil {
			panic(err)
		}
	}
	inst.Start() // timers on the real clock
	defer inst.Stop()

	if _, err := inst.SlaveOf("10.0.0.1:9221"); err != nil {
		panic(err)
	}
	// WaitSynced joins the syncs in flight.
	if err := waitSynced(inst); err != nil {
		panic(err)
	}
	info := inst.Info()
	fmt.Println(info.State, info.LinkUp, len(info.Slots))
	// Output: Connected true 3
}

func waitSynced(inst *replica.Instance) error {
	ctx, cancel := clock.New().WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return inst.WaitSynced(ctx)
}
