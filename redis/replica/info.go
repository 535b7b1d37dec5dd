package replica

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/replsm/replsm/redis/keyspace"
	"github.com/replsm/replsm/redis/resp"
	core "github.com/replsm/replsm/replica"
	"github.com/replsm/replsm/slot"
)

// What the replica says about itself: ROLE and INFO with Redis's field
// names where Redis has them, plus replsm's per-slot lines from the core.

// noReplID is what Redis shows for a replication id it does not have.
const noReplID = "0000000000000000000000000000000000000000"

// redisLinkState maps a slot state onto the replica states ROLE reports.
func redisLinkState(s slot.State) string {
	switch s {
	case slot.TryConnect, slot.TryDBSync:
		return "connecting"
	case slot.WaitReply:
		return "handshake"
	case slot.WaitDBSync:
		return "sync"
	case slot.Connected:
		return "connected"
	}
	return "connect" // NoConnect, Error, Detached: waiting to (re)connect
}

// role answers ROLE. For one shard (or a connection scoped to one) it is
// Redis's replica form: ["slave", host, port, state, offset]. Unscoped with
// several shards it is ["slave", [id, host, port, state, offset], ...].
func (r *Replica) role(st *connState) resp.Value {
	one := func(sh *shard, withID bool) []resp.Value {
		ss := sh.stats()
		off := int64(-1)
		if ss.Cursor.Valid() {
			off = ss.Cursor.Offset
		}
		ep := sh.ep.Load()
		v := []resp.Value{resp.BulkString(ep.host), resp.Integer(int64(ep.port)),
			resp.BulkString(redisLinkState(ss.State)), resp.Integer(off)}
		if withID {
			v = append([]resp.Value{resp.BulkString(itoa(int64(sh.id)))}, v...)
		}
		return v
	}
	shards := r.shardsFor(st)
	if len(shards) == 1 {
		return resp.Array(append([]resp.Value{resp.BulkString("slave")}, one(shards[0], false)...)...)
	}
	out := []resp.Value{resp.BulkString("slave")}
	for _, sh := range shards {
		out = append(out, resp.Array(one(sh, true)...))
	}
	return resp.Array(out...)
}

// infoText answers INFO [section ...] with Redis's sections and field
// names: server, stats, replication and keyspace, plus replsm (what Redis
// does not have) and shards (one replication section per shard). No
// argument, "default", "all" and "everything" give all but shards;
// unknown sections give nothing, as in Redis.
func (r *Replica) infoText(st *connState, args [][]byte) string {
	want := map[string]bool{}
	for _, a := range args {
		want[strings.ToLower(string(a))] = true
	}
	all := len(args) == 0 || want["all"] || want["everything"] || want["default"]
	now := r.clk.Now()
	var b strings.Builder
	sections := []struct {
		name  string
		write func(*strings.Builder)
	}{
		{"server", func(b *strings.Builder) { r.writeServer(b, now) }},
		{"stats", func(b *strings.Builder) { r.writeStats(b, st) }},
		{"replication", func(b *strings.Builder) { r.writeReplication(b, st, now) }},
		{"keyspace", func(b *strings.Builder) { r.writeKeyspace(b, st) }},
		{"replsm", func(b *strings.Builder) { r.writeReplsm(b, st, now) }},
	}
	// INFO shards: one Redis-form replication section per shard in scope.
	// Not part of "all": its keys repeat from section to section, which
	// the usual key:value parsers of INFO do not expect.
	sections = append(sections, struct {
		name  string
		write func(*strings.Builder)
	}{"shards", func(b *strings.Builder) { r.writeShardSections(b, st, now) }})
	for _, sec := range sections {
		if (all && sec.name != "shards") || want[sec.name] {
			if b.Len() > 0 {
				b.WriteString("\r\n")
			}
			sec.write(&b)
		}
	}
	return b.String()
}

// redisVersion is the Redis version whose replication protocol and INFO
// fields this replica speaks; clients look at it to pick features.
const redisVersion = "7.0.15"

func (r *Replica) writeServer(b *strings.Builder, now time.Time) {
	up := now.Sub(r.started0)
	port := 0
	if _, p, err := net.SplitHostPort(r.Addr()); err == nil {
		port, _ = strconv.Atoi(p)
	}
	fmt.Fprintf(b, "# Server\r\nredis_version:%s\r\nredis_mode:standalone\r\nos:%s %s\r\narch_bits:%d\r\n",
		redisVersion, runtime.GOOS, runtime.GOARCH, strconv.IntSize)
	fmt.Fprintf(b, "process_id:%d\r\nrun_id:%s\r\ntcp_port:%d\r\nserver_time_usec:%d\r\nuptime_in_seconds:%d\r\nuptime_in_days:%d\r\n",
		os.Getpid(), r.runID, port, now.UnixMicro(), int64(up/time.Second), int64(up/(24*time.Hour)))
	fmt.Fprintf(b, "replsm_go_version:%s\r\n", runtime.Version())
}

// writeStats writes the counters Redis keeps in INFO stats that a replica
// has: bytes read from its primaries and the syncs it made (Redis counts
// sync_full and sync_partial_ok on the primary side; here they are this
// replica's own, summed over the shards in scope).
func (r *Replica) writeStats(b *strings.Builder, st *connState) {
	var rx int64
	var full, partial, applied uint64
	for _, sh := range r.shardsFor(st) {
		rx += sh.obs.rx.Load()
		full += sh.fullSyncs.Load()
		partial += sh.partialSyncs.Load()
		applied += sh.applied.Load()
	}
	fmt.Fprintf(b, "# Stats\r\ntotal_net_repl_input_bytes:%d\r\nsync_full:%d\r\nsync_partial_ok:%d\r\nreplsm_applied_commands:%d\r\n",
		rx, full, partial, applied)
}

// writeReplication is INFO replication. For one shard in scope it is
// exactly what a Redis 7.0 replica prints, plus replsm_* fields. Unscoped
// over several shards it is a summary (master_link_status up only when
// every shard is; how many are up; the longest time one has been down) and
// a line per shard.
func (r *Replica) writeReplication(b *strings.Builder, st *connState, now time.Time) {
	shards := r.shardsFor(st)
	b.WriteString("# Replication\r\nrole:slave\r\n")
	if len(shards) == 1 {
		writeShardFields(b, shards[0], now, r.cfg.ReplicaPriority)
		return
	}
	up, syncing, downMax := 0, false, int64(-1)
	for _, sh := range shards {
		switch sh.slot.State() {
		case slot.Connected, slot.Detached:
			up++
			continue
		case slot.WaitDBSync:
			syncing = true
		}
		downMax = max(downMax, downSince(sh, now))
	}
	fmt.Fprintf(b, "master_link_status:%s\r\nmaster_sync_in_progress:%d\r\n", upDown(up == len(shards)), boolDigit(syncing))
	if up < len(shards) {
		fmt.Fprintf(b, "master_link_down_since_seconds:%d\r\n", downMax)
	}
	writePriority(b, r.cfg.ReplicaPriority)
	fmt.Fprintf(b, "slave_read_only:1\r\nconnected_slaves:0\r\nreplsm_shards:%d\r\nreplsm_shards_up:%d\r\n", len(shards), up)
	for _, sh := range shards {
		writeShardLine(b, sh, now)
	}
}

// writeShardLine is one shard's summary in the unscoped INFO replication:
// Redis's field names as key=value pairs on one line, in the style of a
// primary's slaveN lines, so every INFO key stays unique (the full Redis
// form of a shard is INFO on a connection scoped with REPLSM.SHARD).
func writeShardLine(b *strings.Builder, sh *shard, now time.Time) {
	ss := sh.stats()
	connected := ss.State == slot.Connected
	lastIO := int64(-1)
	if connected && !ss.LastIO.IsZero() {
		lastIO = (now.UnixNano() - ss.LastIO.UnixNano()) / 1e9
	}
	ep := sh.ep.Load()
	fmt.Fprintf(b, "shard%d:master_host=%s,master_port=%d,master_link_status=%s,master_last_io_seconds_ago=%d,master_sync_in_progress=%d,slave_repl_offset=%d,master_replid=%s",
		ss.ID, ep.host, ep.port, upDown(connected), lastIO, boolDigit(ss.State == slot.WaitDBSync), ss.Cursor.Offset, replIDOrZero(ss.Cursor))
	if active, total, read := sh.obs.transferProgress(); active {
		fmt.Fprintf(b, ",master_sync_total_bytes=%d,master_sync_read_bytes=%d", total, read)
	}
	if !connected {
		fmt.Fprintf(b, ",master_link_down_since_seconds=%d", downSince(sh, now))
	}
	fmt.Fprintf(b, ",state=%s,session=%d,full_syncs=%d,partial_syncs=%d,applied=%d", ss.State, ss.Session, ss.FullSyncs, ss.PartialSyncs, ss.Applied)
	if lb, ls, ok := sh.obs.lag.lag(ss.Cursor.Offset, now); ok && connected {
		fmt.Fprintf(b, ",lag_bytes=%d,lag_seconds=%.0f", lb, ls)
	}
	b.WriteString("\r\n")
}

// writeShardSections writes "# Shard N" with a Redis replica's INFO
// replication fields for every shard in scope.
func (r *Replica) writeShardSections(b *strings.Builder, st *connState, now time.Time) {
	for i, sh := range r.shardsFor(st) {
		if i > 0 {
			b.WriteString("\r\n")
		}
		fmt.Fprintf(b, "# Shard %d\r\nrole:slave\r\n", sh.id)
		writeShardFields(b, sh, now, r.cfg.ReplicaPriority)
	}
}

// downSince is master_link_down_since_seconds of a shard that is not
// Connected: seconds since its link last went down, -1 when it never was
// up (Redis's repl_down_since of 0). The times come from the slot's
// records, which observers see just after the state changed: a link that
// was up and has no later down time went down a moment ago.
func downSince(sh *shard, now time.Time) int64 {
	down, up := sh.obs.downSince.Load(), sh.obs.upSince.Load()
	switch {
	case down == 0 && up == 0:
		return -1
	case down < up:
		return 0
	}
	return (now.UnixNano() - down) / 1e9
}

// writeShardFields writes a Redis 7.0 replica's INFO replication fields,
// in its order, for one shard.
func writeShardFields(b *strings.Builder, sh *shard, now time.Time, priority int) {
	ss := sh.stats()
	nowNano := now.UnixNano()
	connected := ss.State == slot.Connected
	// Redis prints -1 while it has no master client, i.e. the link is down.
	lastIO := int64(-1)
	if connected && !ss.LastIO.IsZero() {
		lastIO = (nowNano - ss.LastIO.UnixNano()) / 1e9
	}
	ep := sh.ep.Load()
	fmt.Fprintf(b, "master_host:%s\r\nmaster_port:%d\r\nmaster_link_status:%s\r\nmaster_last_io_seconds_ago:%d\r\nmaster_sync_in_progress:%d\r\n",
		ep.host, ep.port, upDown(connected), lastIO, boolDigit(ss.State == slot.WaitDBSync))
	fmt.Fprintf(b, "slave_read_repl_offset:%d\r\nslave_repl_offset:%d\r\n", ss.Cursor.Offset, ss.Cursor.Offset)
	if active, total, read := sh.obs.transferProgress(); active {
		perc := 0.0
		if total > 0 {
			perc = float64(read) / float64(total) * 100
		}
		syncIO := int64(0)
		if t := sh.lastIO.Load(); t != 0 {
			syncIO = (nowNano - t) / 1e9
		}
		fmt.Fprintf(b, "master_sync_total_bytes:%d\r\nmaster_sync_read_bytes:%d\r\nmaster_sync_left_bytes:%d\r\nmaster_sync_perc:%.2f\r\nmaster_sync_last_io_seconds_ago:%d\r\n",
			total, read, total-read, perc, syncIO)
	}
	if !connected {
		fmt.Fprintf(b, "master_link_down_since_seconds:%d\r\n", downSince(sh, now))
	}
	writePriority(b, priority)
	b.WriteString("slave_read_only:1\r\nreplica_announced:1\r\nconnected_slaves:0\r\nmaster_failover_state:no-failover\r\n")
	id2, off2 := sh.second()
	if id2 == "" {
		id2 = noReplID
	}
	fmt.Fprintf(b, "master_replid:%s\r\nmaster_replid2:%s\r\nmaster_repl_offset:%d\r\nsecond_repl_offset:%d\r\n",
		replIDOrZero(ss.Cursor), id2, ss.Cursor.Offset, off2)
	writeShardBacklog(b, sh)
	writeShardReplsm(b, sh, ss, now)
}

// writeShardReplsm writes what Redis lacks for a shard: sync attempts, the
// last full sync, lag, exhaustion.
func writeShardReplsm(b *strings.Builder, sh *shard, ss ShardStats, now time.Time) {
	st := sh.slot.Status()
	o := &sh.obs
	fmt.Fprintf(b, "replsm_shard:%d\r\nreplsm_state:%s\r\nreplsm_in_state_seconds:%d\r\nreplsm_session:%d\r\n",
		ss.ID, st.State, int64(st.InState/time.Second), st.Session)
	fmt.Fprintf(b, "replsm_sync_attempts:%d\r\nreplsm_full_syncs:%d\r\nreplsm_partial_syncs:%d\r\nreplsm_applied:%d\r\n",
		ss.Sessions, ss.FullSyncs, ss.PartialSyncs, ss.Applied)
	fmt.Fprintf(b, "replsm_last_full_sync_seconds:%.3f\r\nreplsm_last_full_sync_bytes:%d\r\n",
		time.Duration(o.lastFullDur.Load()).Seconds(), o.lastFullBytes.Load())
	lagBytes, lagSecs := int64(-1), -1.0
	if b2, s, ok := o.lag.lag(ss.Cursor.Offset, now); ok && st.State == slot.Connected {
		lagBytes, lagSecs = b2, s
	}
	fmt.Fprintf(b, "replsm_lag_bytes:%d\r\nreplsm_lag_seconds:%.0f\r\n", lagBytes, lagSecs)
	fmt.Fprintf(b, "replsm_recoveries:%d\r\nreplsm_failures:%d\r\nreplsm_attempts_left:%d\r\nreplsm_attempts_cap:%d\r\nreplsm_exhausted:%d\r\nreplsm_exhaustions:%d\r\n",
		st.Stats.Recoveries, st.Stats.Failures, st.AttemptsLeft, st.Cap, boolDigit(st.Exhausted), st.Stats.Exhaustions)
	if ss.LastFailure != nil {
		fmt.Fprintf(b, "replsm_last_failure:%s\r\n", oneLine(ss.LastFailure.Error()))
	}
	writeUnapplied(b, ss)
}

// writeUnapplied reports the commands the shard skipped instead of failing
// and full-syncing again.
func writeUnapplied(b *strings.Builder, ss ShardStats) {
	fmt.Fprintf(b, "replsm_unapplied_commands:%d\r\n", ss.Unapplied)
	if ss.LastUnapplied != "" {
		fmt.Fprintf(b, "replsm_last_unapplied:%s\r\n", oneLine(ss.LastUnapplied))
	}
}

// writeKeyspace is INFO keyspace: dbN:keys=,expires=,avg_ttl= for every
// database with keys, summed over the shards in scope (avg_ttl weighted by
// each shard's keys with a TTL).
func (r *Replica) writeKeyspace(b *strings.Builder, st *connState) {
	b.WriteString("# Keyspace\r\n")
	var keys, expires, ttlSum [keyspace.NumDBs]int64
	for _, sh := range r.shardsFor(st) {
		for db, s := range sh.ks.Stats() {
			keys[db] += int64(s.Keys)
			expires[db] += int64(s.Expires)
			ttlSum[db] += s.AvgTTL * int64(s.Expires)
		}
	}
	for db := range keys {
		if keys[db] == 0 {
			continue
		}
		avg := int64(0)
		if expires[db] > 0 {
			avg = ttlSum[db] / expires[db]
		}
		fmt.Fprintf(b, "db%d:keys=%d,expires=%d,avg_ttl=%d\r\n", db, keys[db], expires[db], avg)
	}
}

// writeReplsm writes the instance machine's status (rendered here from the
// core's data), the state dir and the outbox.
func (r *Replica) writeReplsm(b *strings.Builder, st *connState, now time.Time) {
	b.WriteString("# Replsm\r\n")
	info := r.inst.Info()
	fmt.Fprintf(b, "instance_state:%s\r\ninstance_in_state_seconds:%d\r\ninstance_session:%d\r\ninstance_attempts_left:%d\r\ninstance_attempts_cap:%d\r\ninstance_exhausted:%d\r\n",
		info.State, int64(info.InState/time.Second), info.Session, info.AttemptsLeft, info.Cap, boolDigit(info.Exhausted))
	if info.LastError != "" {
		fmt.Fprintf(b, "instance_last_error:%s\r\n", oneLine(info.LastError))
	}
	inScope := map[slot.ID]bool{}
	for _, sh := range r.shardsFor(st) {
		inScope[sh.id] = true
	}
	for _, s := range info.Slots {
		if !inScope[s.ID] {
			continue
		}
		fmt.Fprintf(b, "%s:state=%s,session=%d,attempts_left=%d/%d,exhausted=%t,probing=%t,in_state=%s,full_syncs=%d,partial_syncs=%d,recoveries=%d,probes=%d,busy_retries=%d,stale_dropped=%d",
			s.ID, s.State, s.Session, s.AttemptsLeft, s.Cap, s.Exhausted, s.Probing, s.InState.Round(time.Millisecond),
			s.Stats.FullSyncs, s.Stats.PartialSyncs, s.Stats.Recoveries, s.Stats.Probes, s.Stats.BusyRetries, s.Stats.StaleDropped)
		if s.Endpoint != "" {
			fmt.Fprintf(b, ",endpoint=%s", s.Endpoint)
		}
		if s.LastError != "" {
			fmt.Fprintf(b, ",last_error=%q", oneLine(s.LastError))
		}
		b.WriteString("\r\n")
	}
	if r.dur != nil {
		fmt.Fprintf(b, "state_dir:%s\r\n", oneLine(r.dur.dir))
		for _, sh := range r.shardsFor(st) {
			ss := sh.stats()
			fmt.Fprintf(b, "shard%d_snapshot:replid=%s,offset=%d,db=%d,snapshots=%d,restored=%d",
				ss.ID, replIDOrZero(ss.Durable), ss.Durable.Offset, ss.Durable.DB, ss.Snapshots, boolDigit(ss.Restored))
			if ss.SnapshotError != nil {
				fmt.Fprintf(b, ",last_error=%q", oneLine(ss.SnapshotError.Error()))
			}
			b.WriteString("\r\n")
		}
	}
	r.writeSentinelInfo(b)
	var oi Info
	r.outboxInfo(&oi)
	for _, line := range oi.outboxLines(now) {
		b.WriteString(line)
		b.WriteString("\r\n")
	}
}

func replIDOrZero(c Cursor) string {
	if c.ReplID == "" {
		return noReplID
	}
	return c.ReplID
}

func upDown(up bool) string {
	if up {
		return "up"
	}
	return "down"
}

func boolDigit(b bool) int {
	if b {
		return 1
	}
	return 0
}

func oneLine(s string) string { return strings.NewReplacer("\r", " ", "\n", " ").Replace(s) }

// writeCoreInfo renders the core's instance and slot status (REPLSM.INFO,
// Info.String) in key:value lines. The core gives data only; the text is
// this embedding's.
func writeCoreInfo(b *strings.Builder, i core.Info) {
	fmt.Fprintf(b, "role:slave\nmaster:%s\nmaster_link_status:%s\ninstance_state:%s\ninstance_session:%d\n", i.Master, upDown(i.LinkUp), i.State, i.Session)
	fmt.Fprintf(b, "instance_attempts_left:%d/%d\ninstance_exhausted:%t\ninstance_in_state:%s\n", i.AttemptsLeft, i.Cap, i.Exhausted, i.InState)
	if i.LastError != "" {
		fmt.Fprintf(b, "instance_last_error:%s\n", oneLine(i.LastError))
	}
	for _, s := range i.Slots {
		fmt.Fprintf(b, "%s:state=%s,session=%d,attempts_left=%d/%d,exhausted=%t,probing=%t,in_state=%s,full_syncs=%d,partial_syncs=%d,recoveries=%d,probes=%d,busy_retries=%d,stale_dropped=%d",
			s.ID, s.State, s.Session, s.AttemptsLeft, s.Cap, s.Exhausted, s.Probing, s.InState, s.Stats.FullSyncs, s.Stats.PartialSyncs, s.Stats.Recoveries, s.Stats.Probes, s.Stats.BusyRetries, s.Stats.StaleDropped)
		if s.Endpoint != "" {
			fmt.Fprintf(b, ",endpoint=%s", s.Endpoint)
		}
		if s.LastError != "" {
			fmt.Fprintf(b, ",last_error=%q", s.LastError)
		}
		b.WriteByte('\n')
	}
}

// writePriority is slave_priority (what Sentinel reads; 0 = never promote
// this replica, Config.ReplicaPriority's default) and its newer name.
func writePriority(b *strings.Builder, priority int) {
	fmt.Fprintf(b, "slave_priority:%d\r\nreplica_priority:%d\r\n", priority, priority)
}
