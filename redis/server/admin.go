package server

import (
	"strconv"
	"strings"
)

// The administrative commands both roles answer alike: the CLIENT subset
// Redis Sentinel sends (SETNAME, GETNAME, KILL TYPE in its reconfiguration
// transaction) and EXEC of a transaction run command by command.

// HandleAdmin serves CLIENT (HandleCLIENT) and CONFIG REWRITE (+OK: no
// configuration file to rewrite), which both roles answer alike, and
// reports whether the request was one of them.
func HandleAdmin(c *Conn, args [][]byte, pubsub func(*Conn) bool) (bool, error) {
	switch strings.ToLower(string(args[0])) {
	case "client":
		return true, HandleCLIENT(c, args, pubsub)
	case "config":
		if len(args) == 2 && strings.EqualFold(string(args[1]), "rewrite") {
			return true, c.WriteOK()
		}
	}
	return false, nil
}

// HandleCLIENT answers CLIENT SETNAME, GETNAME, ID and KILL (TYPE normal,
// pubsub, master, replica/slave, with SKIPME yes|no; or the old form
// CLIENT KILL ip:port). pubsub tells which connections are in a pub/sub
// context; it may be nil. A killed connection's goroutine ends on its own.
func HandleCLIENT(c *Conn, args [][]byte, pubsub func(*Conn) bool) error {
	if len(args) < 2 {
		return c.WriteError(WrongArgs(args[0]))
	}
	sub := strings.ToLower(string(args[1]))
	switch sub {
	case "setname":
		if len(args) != 3 {
			return c.WriteError("ERR wrong number of arguments for 'client|setname' command")
		}
		for _, b := range args[2] {
			if b <= ' ' || b > '~' {
				return c.WriteError("ERR Client names cannot contain spaces, newlines or special characters.")
			}
		}
		c.SetName(string(args[2]))
		return c.WriteOK()
	case "getname":
		if n := c.Name(); n != "" {
			return c.WriteBulkString(n)
		}
		return c.WriteNull()
	case "id":
		return c.WriteInteger(int64(c.ID()))
	case "kill":
		return clientKill(c, args, pubsub)
	}
	return c.WriteErrorf("ERR unknown subcommand '%s'. Try CLIENT HELP.", clip(args[1], 128))
}

func clientKill(c *Conn, args [][]byte, pubsub func(*Conn) bool) error {
	if len(args) == 3 {
		// CLIENT KILL ip:port: one connection, +OK or an error.
		addr := string(args[2])
		if c.srv.Kill(func(o *Conn) bool { return o.Remote() == addr }, nil) == 0 {
			return c.WriteError("ERR No such client")
		}
		return c.WriteOK()
	}
	if len(args)%2 != 0 {
		return c.WriteError("ERR syntax error")
	}
	var match []func(*Conn) bool
	skip := c
	for i := 2; i < len(args); i += 2 {
		val := strings.ToLower(string(args[i+1]))
		switch strings.ToLower(string(args[i])) {
		case "type":
			f, ok := killType(val, pubsub)
			if !ok {
				return c.WriteErrorf("ERR Unknown client type '%s'", clip(args[i+1], 128))
			}
			match = append(match, f)
		case "skipme":
			switch val {
			case "yes":
				skip = c
			case "no":
				skip = nil
			default:
				return c.WriteError("ERR syntax error")
			}
		case "id":
			id, err := strconv.ParseUint(val, 10, 64)
			if err != nil {
				return c.WriteError("ERR client-id should be greater than 0")
			}
			match = append(match, func(o *Conn) bool { return o.ID() == id })
		case "addr":
			addr := string(args[i+1])
			match = append(match, func(o *Conn) bool { return o.Remote() == addr })
		default:
			return c.WriteError("ERR syntax error")
		}
	}
	n := c.srv.Kill(func(o *Conn) bool {
		for _, f := range match {
			if !f(o) {
				return false
			}
		}
		return true
	}, skip)
	return c.WriteInteger(int64(n))
}

// killType is CLIENT KILL TYPE's filter. Hijacked connections are
// replication links (type replica); the others are normal or pubsub.
func killType(t string, pubsub func(*Conn) bool) (func(*Conn) bool, bool) {
	isSub := func(o *Conn) bool { return pubsub != nil && !o.Hijacked() && pubsub(o) }
	switch t {
	case "normal":
		return func(o *Conn) bool { return !o.Hijacked() && !isSub(o) }, true
	case "pubsub":
		return isSub, true
	case "replica", "slave":
		return (*Conn).Hijacked, true
	case "master":
		return func(*Conn) bool { return false }, true // this server's master link is outbound
	}
	return nil, false
}

// RunQueued answers EXEC for a transaction whose commands run one after
// the other through h: an array header, then the reply h writes for each.
// Roles use it for transactions of administrative commands (Sentinel's
// MULTI, SLAVEOF, CONFIG REWRITE, CLIENT KILL, EXEC).
func RunQueued(c *Conn, cmds [][][]byte, h Handler) error {
	if err := c.WriteArrayHeader(len(cmds)); err != nil {
		return err
	}
	for _, args := range cmds {
		if err := h(c, args); err != nil {
			return err
		}
	}
	return nil
}
