package server

import "fmt"

// MaxQueued bounds the commands one MULTI may queue: a client that queues
// without end gets an error and the transaction fails, rather than the
// server holding every command.
const MaxQueued = 1024

// ExecAbortReply is EXEC's answer for a transaction that had a command
// refused while queuing.
const ExecAbortReply = "EXECABORT Transaction discarded because of previous errors."

// Tx is a connection's open MULTI block, as both roles keep it: the
// commands queued so far, and whether one was refused (EXEC then discards
// them all, as Redis does).
type Tx struct {
	Cmds   [][][]byte
	Failed bool
}

// Refuse marks the transaction failed and answers msg (a Redis error line,
// code first).
func (t *Tx) Refuse(c *Conn, msg string) error {
	t.Failed = true
	return c.WriteError(msg)
}

// Queue adds args and answers +QUEUED; past MaxQueued it refuses them.
func (t *Tx) Queue(c *Conn, args [][]byte) error {
	if len(t.Cmds) >= MaxQueued {
		return t.Refuse(c, fmt.Sprintf("ERR too many commands in one transaction (at most %d)", MaxQueued))
	}
	t.Cmds = append(t.Cmds, args)
	return c.WriteSimpleString("QUEUED")
}
