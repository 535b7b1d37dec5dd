package replica

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"

	"github.com/replsm/replsm/redis/resp"
	core "github.com/replsm/replsm/replica"
	"github.com/replsm/replsm/slot"
)

// The instance's meta step. In a sharded deployment there is no master
// that speaks for every shard, so the step checks each shard's endpoint on
// its own: one that answers must be a primary (a replica there means the
// configuration points at the wrong node: a fatal topology mismatch); one
// that does not answer is left to its slot, which fails, backs off and
// recovers (or exhausts) without holding the other shards back.

// roleKind is what an endpoint said it is.
type roleKind int

const (
	roleUnreachable roleKind = iota // no connection or no answer
	roleUnknown                     // answered, but neither ROLE nor INFO told us
	rolePrimary
	roleReplica
)

type roleProbe struct {
	kind   roleKind
	master string // for a replica: the primary it follows
	offset int64  // for a primary answering ROLE: its offset; -1 unknown
	err    error
}

// MetaSync implements core.Driver: probe every shard endpoint in the
// background, then MetaOK or Fatal under the request's session.
func (r *Replica) MetaSync(req core.MetaRequest) error {
	ctx, cancel := context.WithCancel(context.Background())
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		cancel()
		return ErrClosed
	}
	r.metas[req.Session] = cancel
	r.wg.Add(1)
	r.mu.Unlock()
	go func() {
		defer r.wg.Done()
		defer func() {
			r.mu.Lock()
			delete(r.metas, req.Session)
			r.mu.Unlock()
			cancel()
		}()
		r.meta(ctx, req.Session)
	}()
	return nil
}

// MetaClose implements core.Driver: the instance left the meta session.
func (r *Replica) MetaClose(sess slot.Session, _ string) {
	r.mu.Lock()
	cancel := r.metas[sess]
	r.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

func (r *Replica) meta(ctx context.Context, sess slot.Session) {
	order := r.shards()
	probes := make([]roleProbe, len(order))
	var wg sync.WaitGroup
	for i, sh := range order {
		wg.Add(1)
		go func() {
			defer wg.Done()
			probes[i] = r.probeRole(ctx, sh.addr())
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return // the instance moved on
	}
	var mismatches []string
	for i, p := range probes {
		sh := order[i]
		switch p.kind {
		case roleReplica:
			mismatches = append(mismatches, fmt.Sprintf("shard %d endpoint %s is a replica of %s", sh.id, sh.addr(), p.master))
		case roleUnreachable:
			r.log.Warn("shard endpoint unreachable; its slot will retry on its own",
				slog.String("id", sh.id.String()), slog.String("endpoint", sh.addr()), slog.String("err", errText(p.err)))
		case roleUnknown:
			r.log.Warn("shard endpoint did not say its role; assuming a primary",
				slog.String("id", sh.id.String()), slog.String("endpoint", sh.addr()), slog.String("err", errText(p.err)))
		}
	}
	var err error
	if len(mismatches) > 0 {
		err = r.inst.Fatal(sess, "topology mismatch: "+strings.Join(mismatches, "; "))
	} else {
		err = r.inst.MetaOK(sess)
	}
	if err != nil {
		r.log.Debug("meta reply not delivered", slog.String("err", err.Error()))
	}
}

// probeRole asks ep for ROLE, falling back to INFO replication for servers
// that do not know ROLE. The whole probe (dial and replies) is bounded by
// DialTimeout on the replica's clock, so an endpoint that accepts but never
// answers (a frozen process) counts as unreachable and cannot hold the meta
// step past the instance's MetaTimeout.
func (r *Replica) probeRole(ctx context.Context, ep string) roleProbe {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	t := r.clk.AfterFunc(r.cfg.DialTimeout, cancel)
	defer t.Stop()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", ep)
	if err != nil {
		return roleProbe{kind: roleUnreachable, err: err}
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	defer stop()

	rd := resp.NewReader(bufio.NewReader(c))
	ask := func(args ...string) (resp.Value, error) {
		if _, err := c.Write(resp.AppendCommandStrings(nil, args...)); err != nil {
			return resp.Value{}, err
		}
		for {
			v, _, err := rd.ReadValue()
			if err != nil || v.Kind != resp.KindKeepalive {
				return v, err
			}
		}
	}
	v, err := ask("ROLE")
	if err != nil {
		return roleProbe{kind: roleUnreachable, err: err}
	}
	if p, ok := parseRole(v); ok {
		return p
	}
	v, err = ask("INFO", "replication")
	if err != nil {
		return roleProbe{kind: roleUnreachable, err: err}
	}
	if v.Kind == resp.KindBulkString {
		if p, ok := parseInfoRole(v.Text()); ok {
			return p
		}
	}
	return roleProbe{kind: roleUnknown, err: fmt.Errorf("ROLE and INFO replication answered %s", clipText(replyText(v)))}
}

// parseRole reads a ROLE reply: ["master", offset, [...]] or
// ["slave", host, port, state, offset].
func parseRole(v resp.Value) (roleProbe, bool) {
	if v.Kind != resp.KindArray || len(v.Array) == 0 || v.Array[0].Kind != resp.KindBulkString {
		return roleProbe{}, false
	}
	switch v.Array[0].Text() {
	case "master":
		off := int64(-1)
		if len(v.Array) >= 2 && v.Array[1].Kind == resp.KindInteger {
			off = v.Array[1].Int
		}
		return roleProbe{kind: rolePrimary, offset: off}, true
	case "slave", "replica":
		master := "?"
		if len(v.Array) >= 3 {
			master = net.JoinHostPort(v.Array[1].Text(), roleField(v.Array[2]))
		}
		return roleProbe{kind: roleReplica, master: clipText(master)}, true
	}
	return roleProbe{}, false
}

func roleField(v resp.Value) string {
	if v.Kind == resp.KindInteger {
		return itoa(v.Int)
	}
	return v.Text()
}

// parseInfoRole reads role: (and master_host/master_port) from INFO text.
func parseInfoRole(text string) (roleProbe, bool) {
	fields := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		if k, v, ok := strings.Cut(strings.TrimRight(line, "\r"), ":"); ok {
			fields[k] = v
		}
	}
	switch fields["role"] {
	case "master":
		return roleProbe{kind: rolePrimary, offset: -1}, true
	case "slave":
		// The address ends up in a mismatch reason: clipped, as a hostile
		// peer chooses its length.
		return roleProbe{kind: roleReplica, master: clipText(net.JoinHostPort(fields["master_host"], fields["master_port"]))}, true
	}
	return roleProbe{}, false
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
