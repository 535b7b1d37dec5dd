package replica

import (
	"fmt"
	"strings"

	"github.com/replsm/replsm/redis/keyspace"
	"github.com/replsm/replsm/redis/resp"
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
		v := []resp.Value{resp.BulkString(sh.host), resp.Integer(int64(sh.port)),
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

// infoText answers INFO [section ...]: replication (the default), keyspace
// and replsm; "all", "everything" and "default" give all three.
func (r *Replica) infoText(st *connState, args [][]byte) string {
	want := map[string]bool{}
	for _, a := range args {
		want[strings.ToLower(string(a))] = true
	}
	all := len(args) == 0 || want["all"] || want["everything"] || want["default"]
	var b strings.Builder
	if all || want["replication"] {
		r.writeReplication(&b, st)
	}
	if all || want["keyspace"] {
		r.writeKeyspace(&b, st)
	}
	if all || want["replsm"] {
		r.writeReplsm(&b, st)
	}
	return b.String()
}

func (r *Replica) writeReplication(b *strings.Builder, st *connState) {
	shards := r.shardsFor(st)
	b.WriteString("# Replication\r\nrole:slave\r\n")
	if len(shards) == 1 {
		writeShardFields(b, shards[0], r.clk.Now().UnixNano())
	} else {
		up, syncing := true, false
		for _, sh := range shards {
			s := sh.slot.State()
			up = up && (s == slot.Connected || s == slot.Detached)
			syncing = syncing || s == slot.WaitDBSync
		}
		fmt.Fprintf(b, "master_link_status:%s\r\nmaster_sync_in_progress:%d\r\n", upDown(up), boolDigit(syncing))
	}
	b.WriteString("slave_read_only:1\r\nconnected_slaves:0\r\n")
	fmt.Fprintf(b, "replsm_shards:%d\r\n", len(shards))
	for _, sh := range shards {
		ss := sh.stats()
		fmt.Fprintf(b, "shard%d:master_host=%s,master_port=%d,master_link_status=%s,master_sync_in_progress=%d,slave_repl_offset=%d,master_replid=%s,state=%s,session=%d,full_syncs=%d,partial_syncs=%d,applied=%d\r\n",
			ss.ID, sh.host, sh.port, upDown(ss.State == slot.Connected), boolDigit(ss.State == slot.WaitDBSync),
			ss.Cursor.Offset, replIDOrZero(ss.Cursor), ss.State, ss.Session, ss.FullSyncs, ss.PartialSyncs, ss.Applied)
	}
}

// writeShardFields writes Redis's replica fields for one shard.
func writeShardFields(b *strings.Builder, sh *shard, nowNano int64) {
	ss := sh.stats()
	lastIO := int64(-1)
	if !ss.LastIO.IsZero() {
		lastIO = (nowNano - ss.LastIO.UnixNano()) / 1e9
	}
	fmt.Fprintf(b, "master_host:%s\r\nmaster_port:%d\r\nmaster_link_status:%s\r\nmaster_last_io_seconds_ago:%d\r\nmaster_sync_in_progress:%d\r\n",
		sh.host, sh.port, upDown(ss.State == slot.Connected), lastIO, boolDigit(ss.State == slot.WaitDBSync))
	fmt.Fprintf(b, "slave_read_repl_offset:%d\r\nslave_repl_offset:%d\r\nmaster_replid:%s\r\nmaster_repl_offset:%d\r\n",
		ss.Cursor.Offset, ss.Cursor.Offset, replIDOrZero(ss.Cursor), ss.Cursor.Offset)
	fmt.Fprintf(b, "replsm_shard:%d\r\nreplsm_state:%s\r\nreplsm_session:%d\r\nreplsm_full_syncs:%d\r\nreplsm_partial_syncs:%d\r\nreplsm_applied:%d\r\n",
		ss.ID, ss.State, ss.Session, ss.FullSyncs, ss.PartialSyncs, ss.Applied)
	if ss.LastFailure != nil {
		fmt.Fprintf(b, "replsm_last_failure:%s\r\n", oneLine(ss.LastFailure.Error()))
	}
	writeUnapplied(b, ss)
}

// writeUnapplied reports commands the shard skipped (issue 10).
func writeUnapplied(b *strings.Builder, ss ShardStats) {
	fmt.Fprintf(b, "replsm_unapplied_commands:%d\r\n", ss.Unapplied)
	if ss.LastUnapplied != "" {
		fmt.Fprintf(b, "replsm_last_unapplied:%s\r\n", oneLine(ss.LastUnapplied))
	}
}

func (r *Replica) writeKeyspace(b *strings.Builder, st *connState) {
	b.WriteString("# Keyspace\r\n")
	for db := 0; db < keyspace.NumDBs; db++ {
		var n int64
		for _, sh := range r.shardsFor(st) {
			d := db
			res, _ := sh.ks.Exec(&d, [][]byte{[]byte("DBSIZE")})
			n += res.Reply.Int
		}
		if n > 0 {
			fmt.Fprintf(b, "db%d:keys=%d\r\n", db, n)
		}
	}
}

// writeReplsm writes the core's instance lines and the slot lines of the
// shards in scope.
func (r *Replica) writeReplsm(b *strings.Builder, st *connState) {
	b.WriteString("# Replsm\r\n")
	inScope := map[string]bool{}
	for _, sh := range r.shardsFor(st) {
		inScope[sh.id.String()] = true
	}
	for _, line := range strings.Split(strings.TrimRight(r.inst.Info().String(), "\n"), "\n") {
		key, _, _ := strings.Cut(line, ":")
		switch {
		case key == "role" || key == "master_link_status":
			continue // already in # Replication, per shard
		case strings.HasPrefix(key, "slot/") && !inScope[key]:
			continue
		}
		b.WriteString(line)
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
	var info Info
	r.outboxInfo(&info)
	for _, line := range info.outboxLines(r.clk.Now()) {
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
