package replica

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/internal/redistest"
	"github.com/replsm/replsm/slot"
)

// TestSentinelReplsmPrimaryFailover is the other direction of
// docs/sentinel.md: the PRIMARY is a replsm server started as one (as
// `replsm primary` starts it), two real redis-server replicas follow it
// and three real sentinels (quorum 2) monitor it. After a bounded write
// load, SENTINEL FAILOVER promotes a real replica; Sentinel then demotes
// the replsm server with its MULTI/SLAVEOF/EXEC transaction, and replsm
// continues its own history on the new primary with +CONTINUE: the new
// primary's sync_partial_ok grows and replsm asked it for no full sync.
// Sentinel lists replsm as a healthy replica of the new primary.
func TestSentinelReplsmPrimaryFailover(t *testing.T) {
	ctx := testCtx(t, 240*time.Second)
	recs := &recordLog{}
	logs := &redistest.SyncBuffer{}
	cfg := rolesConfig(t, "127.0.0.1:1") // a placeholder: nothing is followed until SLAVEOF
	cfg.StartAsPrimary = true
	cfg.Logger = slog.New(slog.NewTextHandler(io.MultiWriter(t.Output(), logs), &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg.Observers = append(cfg.Observers, recs.observe)
	r := startReplica(t, cfg)
	rc := unionClient(t, r)
	rport := portOf(t, r.Addr())
	require.NoError(t, redistest.FillAllTypes(ctx, rc, "pre", 20))

	reals := map[string]*redistest.Server{}
	for _, name := range []string{"real-a", "real-b"} {
		s := redistest.Start(t, redistest.Options{Name: name, Args: append(redistest.ReplicaOfArgs(rport), "--repl-backlog-size", "64mb")})
		require.NoError(t, redistest.WaitReplicaUp(ctx, s.Client()))
		reals[s.Addr()] = s
	}
	sentinels := redistest.StartSentinels(t, sentinelName, rport, 3, 2)
	for _, s := range sentinels {
		requireSentinelSees(t, s, func(reps []map[string]string) error {
			n := 0
			for _, m := range reps {
				if _, ok := reals[m["ip"]+":"+m["port"]]; ok && m["flags"] == "slave" && m["master-link-status"] == "ok" {
					n++
				}
			}
			if n != len(reals) {
				return fmt.Errorf("%d of %d real replicas healthy in %v", n, len(reals), reps)
			}
			return nil
		})
	}

	// A small bounded write load on the replsm primary, caught up by both
	// real replicas before the failover.
	written := 0
	for i := 0; i < 40; i++ {
		p := rc.Pipeline()
		for j := 0; j < 50; j++ {
			p.Set(ctx, "load:"+strconv.Itoa((i*50+j)%1500), i*50+j, 0)
		}
		_, err := p.Exec(ctx)
		require.NoError(t, err)
		written += 50
	}
	for _, s := range reals {
		require.NoError(t, redistest.WaitCaughtUp(ctx, rc, s.Client()))
	}
	before := map[string][2]int{}
	for addr, s := range reals {
		f, p := syncStats(t, ctx, s)
		before[addr] = [2]int{f, p}
	}
	own0 := r.Primary(0).Stats()
	replsmOffset := r.Primary(0).Offset()

	switched := watchSwitch(t, ctx, sentinels[1])
	start := time.Now()
	require.NoError(t, sentinels[0].Client().Do(ctx, "SENTINEL", "FAILOVER", sentinelName).Err())
	var np *redistest.Server
	redistest.RequireEventually(t, 90*time.Second, "the sentinels to name a real replica", func(ctx context.Context) error {
		v, err := sentinels[0].Client().Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", sentinelName).StringSlice()
		if err != nil {
			return err
		}
		if len(v) != 2 {
			return fmt.Errorf("answer %v", v)
		}
		if np = reals[v[0]+":"+v[1]]; np == nil {
			return fmt.Errorf("master is still %v", v)
		}
		return nil
	})
	streaming := followedBy(t, r, recs, np.Addr())
	require.NoError(t, redistest.FillAllTypes(ctx, np.Client(), "after", 10))
	requireSameDigest(t, ctx, np.Client(), rc)

	st := slotStatus(t, r, 0)
	npFull, npPartial := syncStats(t, ctx, np)
	assert.Zero(t, st.Stats.FullSyncs, "replsm continued its own history: no full sync")
	assert.Equal(t, uint64(1), st.Stats.PartialSyncs)
	// The other real replica may full-sync on the new primary (it can hold
	// a ping of replsm's the promoted one missed); none of them is replsm's.
	// Redis logs "Synchronization with replica X succeeded" for full syncs only.
	assert.Zero(t, logLines(t, np, "Synchronization with replica 127.0.0.1:"+strconv.Itoa(rport)), "the new primary served replsm no full sync")
	otherFulls := logLines(t, np, "Synchronization with replica", "succeeded")
	assert.Equal(t, before[np.Addr()][0]+otherFulls, npFull, "every full sync on the new primary is the other real replica's")
	assert.Greater(t, npPartial, before[np.Addr()][1])
	assert.NotZero(t, logLines(t, np, "Partial resynchronization request from 127.0.0.1:"+strconv.Itoa(rport), "accepted"))
	assert.Equal(t, "slave", infoString(t, rc, "role"))
	resumes := recs.find(0, slot.EvResume)
	require.Len(t, resumes, 1)
	assert.Contains(t, resumes[0].Reason, "demoted to replica of "+np.Addr())
	assert.Contains(t, resumes[0].Reason, "sentinel-", "the SLAVEOF came from a sentinel")
	converted := 0
	for _, s := range sentinels {
		converted += logLines(t, s, "+convert-to-slave slave 127.0.0.1:"+strconv.Itoa(rport))
	}
	assert.NotZero(t, converted, "a sentinel converted the old primary to a replica")

	nh, nport, _ := strings.Cut(np.Addr(), ":")
	for _, s := range sentinels {
		requireSentinelSees(t, s, func(reps []map[string]string) error {
			for _, m := range reps {
				if m["port"] != strconv.Itoa(rport) {
					continue
				}
				if m["flags"] != "slave" || m["master-link-status"] != "ok" || m["master-host"] != nh || m["master-port"] != nport {
					return fmt.Errorf("replsm listed as flags=%q link=%q master=%s:%s", m["flags"], m["master-link-status"], m["master-host"], m["master-port"])
				}
				return nil
			}
			return fmt.Errorf("replsm (port %d) not among %v", rport, reps)
		})
	}

	other := map[string]string{}
	for addr, s := range reals {
		f, p := syncStats(t, ctx, s)
		other[addr] = fmt.Sprintf("%s sync_full %d->%d sync_partial_ok %d->%d", addr, before[addr][0], f, before[addr][1], p)
	}
	sw := switched()
	t.Logf("replsm primary under SENTINEL FAILOVER: %d SETs before it (replsm offset %d); +switch-master %v after the command; replsm streaming from the new primary %s %v after the command",
		written, replsmOffset, sw.Sub(start).Round(time.Millisecond), np.Addr(), streaming.Sub(start).Round(time.Millisecond))
	t.Logf("syncs: new primary %s (full syncs of the other real replica: %d); other replica %s; replsm as primary served full %d partial %d; replsm as replica full %d partial %d",
		other[np.Addr()], otherFulls, otherThan(other, np.Addr()), own0.FullSyncs, own0.PartialSyncs, st.Stats.FullSyncs, st.Stats.PartialSyncs)
	t.Logf("transition log of replsm's shard 0 from the command:\n%s", formatRecords(recs, start))
	t.Logf("replsm's role-change log lines:\n%s", grepLines(logs.String(), "demoted", "REPLICAOF", "SLAVEOF"))
}

// requireSentinelSees waits until s's SENTINEL REPLICAS passes check.
func requireSentinelSees(t *testing.T, s *redistest.Server, check func([]map[string]string) error) {
	t.Helper()
	c := s.Client()
	redistest.RequireEventually(t, 60*time.Second, "sentinel "+s.Addr()+"'s replica list", func(ctx context.Context) error {
		reps, err := sentinelReplicas(ctx, c, sentinelName)
		if err != nil {
			return err
		}
		return check(reps)
	})
}

// followedBy waits until r's shard 0 streams from addr after a resume
// (the demotion) and returns when its sync_ok happened.
func followedBy(t *testing.T, r *Replica, recs *recordLog, addr string) time.Time {
	t.Helper()
	var at time.Time
	redistest.RequireEventually(t, 90*time.Second, "replsm to stream from "+addr, func(context.Context) error {
		st, _ := r.Stats(0)
		if st.Endpoint != addr || st.State != slot.Connected {
			return fmt.Errorf("shard follows %q, %s (last failure %v)", st.Endpoint, st.State, st.LastFailure)
		}
		recs.mu.Lock()
		defer recs.mu.Unlock()
		demoted := false
		for _, rec := range recs.recs {
			demoted = demoted || rec.Event == slot.EvResume
			if demoted && rec.Event == slot.EvSyncOK {
				at = rec.Time
				return nil
			}
		}
		return errors.New("no sync_ok after the demotion yet")
	})
	return at
}

// formatRecords formats the records from the first one at or after from,
// one line each: what docs/sentinel.md shows.
func formatRecords(recs *recordLog, from time.Time) string {
	recs.mu.Lock()
	defer recs.mu.Unlock()
	var b strings.Builder
	for _, r := range recs.recs {
		if !r.Time.Before(from) {
			fmt.Fprintf(&b, "%s #%d %s: %s -> %s  %s\n", r.Time.Format("15:04:05.000"), r.Seq, r.Event, r.From, r.To, r.Reason)
		}
	}
	return b.String()
}

// grepLines keeps the lines of text that contain any of the strings.
func grepLines(text string, any ...string) string {
	var b strings.Builder
	for _, line := range strings.Split(text, "\n") {
		for _, a := range any {
			if strings.Contains(line, a) {
				b.WriteString(line + "\n")
				break
			}
		}
	}
	return b.String()
}

// otherThan is m's value for a key other than addr (m has two).
func otherThan(m map[string]string, addr string) string {
	for k, v := range m {
		if k != addr {
			return v
		}
	}
	return ""
}
