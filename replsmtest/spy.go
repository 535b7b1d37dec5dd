package replsmtest

import "github.com/replsm/replsm/slot"

// SpyDriver puts c in front of an embedding's real slot driver d: every
// request and close is checked against the invariants (one open session
// per slot, sessions never reused, no request from a Detached slot or while
// the instance is down, a full sync after an aborted transfer), then passed
// on. Probes go through when d is a slot.Prober. Attach c's SlotRecord and
// InstanceRecord as observers too, and look at c.Violations at the end:
//
//	c := replsmtest.NewChecker(replsmtest.LimitsOf(cfg.SlotConfig, cfg.Instance))
//	cfg.Observers = append(cfg.Observers, c.SlotRecord)
//	cfg.InstanceObservers = append(cfg.InstanceObservers, c.InstanceRecord)
//	cfg.WrapSlotDriver = func(d slot.Driver) slot.Driver { return replsmtest.SpyDriver(c, d) }
func SpyDriver(c *Checker, d slot.Driver) slot.Driver {
	s := spyDriver{c: c, d: d}
	if p, ok := d.(slot.Prober); ok {
		return probingSpy{s, p}
	}
	return s
}

type spyDriver struct {
	c *Checker
	d slot.Driver
}

func (s spyDriver) Sync(req slot.Request) error {
	s.c.Sync(req)
	return s.d.Sync(req)
}

func (s spyDriver) Close(id slot.ID, sess slot.Session, reason string) {
	s.c.Close(id, sess)
	s.d.Close(id, sess, reason)
}

type probingSpy struct {
	spyDriver
	p slot.Prober
}

func (s probingSpy) Probe(req slot.ProbeRequest) { s.p.Probe(req) }
