package primary

import (
	"bytes"
	"strconv"

	"github.com/replsm/replsm/redis/keyspace"
	"github.com/replsm/replsm/redis/resp"
	"github.com/replsm/replsm/redis/server"
)

// connState is what the primary keeps per client connection, in
// server.Conn.Data.
type connState struct {
	repl replconf
	tx   *txn // non-nil between MULTI and EXEC/DISCARD
}

// txn is a MULTI block being queued.
type txn struct {
	server.Tx
	admin bool // holds an administrative command: EXEC runs them one by one
}

func stateOf(c *server.Conn) *connState {
	st, ok := c.Data.(*connState)
	if !ok {
		st = &connState{}
		c.Data = st
	}
	return st
}

// keyspaceCommands are the commands the keyspace executes, by lower-case
// name; MULTI and EXEC are the primary's (the keyspace knows them only as
// stream markers).
var keyspaceCommands = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range keyspace.Commands() {
		m[n] = true
	}
	delete(m, "multi")
	delete(m, "exec")
	return m
}()

// lowerName returns a command name in lower case. Names longer than any
// command are returned as they are: they match nothing either way.
func lowerName(b []byte) string {
	var buf [24]byte
	if len(b) > len(buf) {
		return string(b)
	}
	n := copy(buf[:], b)
	for i := 0; i < n; i++ {
		if c := buf[i]; 'A' <= c && c <= 'Z' {
			buf[i] = c + 'a' - 'A'
		}
	}
	return string(buf[:n])
}

// handle serves one client request.
func (p *Primary) handle(c *server.Conn, args [][]byte) error {
	name := lowerName(args[0])
	st := stateOf(c)
	if st.tx != nil {
		return p.handleQueued(c, st, name, args)
	}
	if done, err := p.admin(c, name, args); done {
		return err
	}
	switch name {
	case "psync":
		return p.handlePSYNC(c, args)
	case "sync":
		return p.handleSYNC(c, args)
	case "replconf":
		return p.handleREPLCONF(c, &st.repl, args)
	case "info":
		return p.handleINFO(c, args)
	case "role":
		return c.WriteValue(p.roleReply())
	case "config":
		return handleCONFIG(c, p.cfg, args)
	case "multi":
		if len(args) != 1 {
			return c.WriteError(server.WrongArgs(args[0]))
		}
		st.tx = &txn{}
		return c.WriteOK()
	case "exec", "discard":
		return c.WriteError("ERR " + string(bytes.ToUpper(args[0])) + " without MULTI")
	case "watch", "unwatch":
		return c.WriteError("ERR WATCH is not supported")
	}
	return c.WriteValue(p.exec(&c.DB, args))
}

// exec runs one command on the keyspace and streams what it propagated,
// both under p.mu so the stream's order is the order of the changes.
func (p *Primary) exec(db *int, args [][]byte) resp.Value {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return resp.Error(demotedReply) // demoted (or closing) while the command was on its way
	}
	// A Go error (unknown command, bad database) comes with the error
	// reply to send; nothing was changed.
	res, _ := p.ks.Exec(db, args)
	if len(res.Propagate) > 0 {
		ops := make([]op, len(res.Propagate))
		for i, a := range res.Propagate {
			ops[i] = op{db: *db, args: a}
		}
		p.feedLocked(ops)
	}
	return res.Reply
}

// handleQueued serves a request between MULTI and EXEC.
func (p *Primary) handleQueued(c *server.Conn, st *connState, name string, args [][]byte) error {
	switch name {
	case "exec":
		tx := st.tx
		st.tx = nil
		if tx.Failed {
			return c.WriteError(server.ExecAbortReply)
		}
		if tx.admin {
			return server.RunQueued(c, tx.Cmds, p.handle)
		}
		return c.WriteValue(p.execAll(&c.DB, tx.Cmds))
	case "discard":
		st.tx = nil
		return c.WriteOK()
	case "multi":
		return st.tx.Refuse(c, "ERR MULTI calls can not be nested")
	case "watch":
		return st.tx.Refuse(c, "ERR WATCH inside MULTI is not allowed")
	}
	if adminCommands[name] {
		st.tx.admin = true
		return st.tx.Queue(c, args)
	}
	if !keyspaceCommands[name] {
		if name == "psync" || name == "replconf" || name == "info" || name == "role" || name == "config" {
			return st.tx.Refuse(c, "ERR Command not allowed inside a transaction")
		}
		st.tx.Failed = true
		return c.WriteUnknownCommand(args)
	}
	return st.tx.Queue(c, args)
}

// execAll runs a transaction atomically and streams its changes, wrapped in
// MULTI ... EXEC when there is more than one, as Redis 7.0 does.
func (p *Primary) execAll(db *int, cmds [][][]byte) resp.Value {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return resp.Error(demotedReply)
	}
	start := *db
	results, err := p.ks.ExecAll(db, cmds)
	if err != nil {
		*db = start
		return resp.Error(server.ExecAbortReply)
	}
	// ExecAll moves *db through the SELECTs in the batch; replay them to
	// know which database each command's propagation applies to.
	cur := start
	var ops []op
	replies := make([]resp.Value, len(results))
	for i, r := range results {
		replies[i] = r.Reply
		if lowerName(cmds[i][0]) == "select" && r.Reply.Kind == resp.KindSimpleString {
			if n, err := strconv.Atoi(string(cmds[i][1])); err == nil {
				cur = n
			}
		}
		for _, a := range r.Propagate {
			ops = append(ops, op{db: cur, args: a})
		}
	}
	p.feedLocked(ops)
	return resp.Array(replies...)
}

// handleREPLCONF records what a would-be follower announces before PSYNC,
// as Redis's replconfCommand does: listening-port, ip-address and capa
// get +OK; ACK and GETACK from a connection that is not (yet) a follower
// get no reply at all.
func (p *Primary) handleREPLCONF(c *server.Conn, rc *replconf, args [][]byte) error {
	if len(args)%2 == 0 {
		return c.WriteError("ERR syntax error")
	}
	for i := 1; i < len(args); i += 2 {
		val := args[i+1]
		switch lowerName(args[i]) {
		case "listening-port":
			n, err := strconv.Atoi(string(val))
			if err != nil || n < 0 || n > 65535 {
				return c.WriteError("ERR value is not an integer or out of range")
			}
			rc.port = n
		case "ip-address":
			rc.ip = string(val)
		case "capa":
			switch lowerName(val) {
			case "eof":
				rc.eof = true
			case "psync2":
				rc.psync2 = true
			} // unknown capabilities are ignored, as Redis does
		case "ack", "getack":
			return nil
		default:
			return c.WriteError("ERR Unrecognized REPLCONF option: " + string(args[i]))
		}
	}
	return c.WriteOK()
}

// handleCONFIG answers CONFIG GET for the few parameters tools ask about
// (redis-benchmark reads "save" and "appendonly"), with the primary's
// values; any other parameter matches nothing.
func handleCONFIG(c *server.Conn, cfg Config, args [][]byte) error {
	if len(args) < 2 {
		return c.WriteError(server.WrongArgs(args[0]))
	}
	if lowerName(args[1]) != "get" {
		return c.WriteError("ERR CONFIG " + string(args[1]) + " is not supported")
	}
	if len(args) < 3 {
		return c.WriteError("ERR wrong number of arguments for 'config|get' command")
	}
	known := map[string]string{
		"save":                     "",
		"appendonly":               "no",
		"repl-backlog-size":        strconv.Itoa(cfg.BacklogSize),
		"repl-ping-replica-period": strconv.FormatInt(int64(cfg.PingPeriod.Seconds()), 10),
		"repl-timeout":             strconv.FormatInt(int64(cfg.ReplTimeout.Seconds()), 10),
		"databases":                strconv.Itoa(keyspace.NumDBs),
	}
	var out []resp.Value
	for _, a := range args[2:] {
		name := lowerName(a)
		if v, ok := known[name]; ok {
			out = append(out, resp.BulkString(name), resp.BulkString(v))
		}
	}
	return c.WriteValue(resp.Array(out...))
}
