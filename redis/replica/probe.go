package replica

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/replsm/replsm/redis/resp"
	"github.com/replsm/replsm/slot"
)

// Reachability probes (slot.Prober). A shard in Error after a failure that
// never reached its primary (refused, no route, connect timeout) asks about
// once a ProbeInterval whether the endpoint answers at all: a TCP connect
// and a PING, no replication handshake, no budget. Any reply counts, an
// error reply too (-LOADING, -NOAUTH): something listens and speaks RESP,
// so a real sync attempt is worth making; what it answers to the handshake
// is the session's business.

// maxProbeTimeout bounds one probe (dial and reply) when DialTimeout is
// longer: a probe is cheap and frequent, and an endpoint that takes longer
// than this to say PONG on a LAN is not worth a sync attempt yet.
const maxProbeTimeout = 500 * time.Millisecond

// probeLimits keep a probe's reply small: PONG is five bytes, and an error
// line is short; anything bigger is still an answer, read no further.
var probeLimits = resp.Limits{MaxBulkLen: 4 << 10, MaxArrayLen: 16, MaxLineLen: 4 << 10, MaxDepth: 2}

// errNoAnswer: the endpoint accepted the connection (or not) but said
// nothing within the probe's time.
var errNoAnswer = errors.New("no answer")

func (r *Replica) probeTimeout() time.Duration { return min(r.cfg.DialTimeout, maxProbeTimeout) }

// Probe implements slot.Prober: it starts a probe of req.Endpoint on its
// own goroutine and returns at once; the answer goes to the slot as
// ProbeResult under req.Probe. A shard has at most one probe in flight: a
// new one cancels the previous, whose answer would be stale anyway. Close
// cancels every probe and waits for them.
func (d slotDriver) Probe(req slot.ProbeRequest) {
	r := d.r
	sh, ok := r.lookup(req.Slot)
	if !ok {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		cancel()
		return
	}
	if sh.probeCancel != nil {
		sh.probeCancel()
	}
	sh.probeCancel = cancel
	r.wg.Add(1)
	r.mu.Unlock()
	ep := req.Endpoint
	if ep == "" {
		ep = sh.addr()
	}
	go func() {
		defer r.wg.Done()
		defer cancel()
		err := r.probe(ctx, ep)
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			return // superseded or closing: nobody waits for this answer
		}
		if perr := sh.slot.ProbeResult(req.Probe, err); perr != nil {
			r.log.Debug("probe answer not delivered", slog.String("id", sh.id.String()), slog.String("why", perr.Error()))
		}
	}()
}

// probe dials ep, sends PING and waits for any reply, all within
// probeTimeout on the replica's clock. nil means the endpoint answered.
func (r *Replica) probe(ctx context.Context, ep string) error {
	limit := r.probeTimeout()
	pctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	t := r.clk.AfterFunc(limit, func() { cancel(fmt.Errorf("%w from %s in %s", errNoAnswer, ep, limit)) })
	defer t.Stop()
	var d net.Dialer
	c, err := d.DialContext(pctx, "tcp", ep)
	if err != nil {
		return probeErr(pctx, err)
	}
	defer c.Close()
	stop := context.AfterFunc(pctx, func() { _ = c.Close() })
	defer stop()
	if _, err := c.Write(resp.AppendCommandStrings(nil, "PING")); err != nil {
		return probeErr(pctx, err)
	}
	rd := resp.NewReaderLimits(bufio.NewReaderSize(c, 512), probeLimits)
	for {
		v, _, err := rd.ReadValue()
		if err != nil {
			if errors.Is(err, resp.ErrProtocol) {
				return nil // it speaks, if not in a way we like: worth a real attempt
			}
			return probeErr(pctx, err)
		}
		if v.Kind != resp.KindKeepalive {
			return nil
		}
	}
}

// probeErr names why a probe ended: its own time limit, the caller's
// cancellation, or the network's error.
func probeErr(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); cause != nil {
		return cause
	}
	return fmt.Errorf("probe: %w", err)
}
