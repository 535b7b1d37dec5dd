package replica

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"

	"github.com/replsm/replsm/internal/failpoint"
	"github.com/replsm/replsm/redis/keyspace"
	"github.com/replsm/replsm/redis/resp"
)

// target is what the applier writes to: a shard's keyspace. It is an
// interface so the fuzz test can watch every change. Apply must not keep
// args past its return (the applier reuses the list; the bytes it may keep).
type target interface {
	Apply(db *int, args [][]byte) (resp.Value, error)
	ExecAll(db *int, cmds [][][]byte) ([]keyspace.Result, error)
}

// applier applies one shard's replication stream to its keyspace with the
// offset accounting of a Redis replica:
//
//   - every byte of every value counts: SELECT, ping, REPLCONF GETACK and
//     bare newlines included;
//   - the offset advances only past data that was applied, so after a
//     failure a PSYNC from offset+1 asks for exactly what is missing;
//   - MULTI ... EXEC is buffered and applied as one atomic step at EXEC,
//     and the offset does not move inside it (Redis updates the master
//     client's reploff only outside MULTI), so a cut in the middle of a
//     transaction resends all of it;
//   - REPLCONF GETACK is answered with the offset before its own bytes;
//   - a command this replica cannot apply (one the keyspace does not
//     implement, or one it answers with an error) is skipped and reported
//     to onSkip, as a Redis replica logs and goes on: a full sync would
//     meet the same command again and loop.
//
// An applier is used by one goroutine at a time.
type applier struct {
	ks      target
	db      int    // the database the stream has SELECTed
	off     int64  // offset of the last byte applied
	applied uint64 // write commands applied
	// onSkip, if set, hears of every command skipped and why.
	onSkip func(args [][]byte, reason string)
	// onPublish, if set, hears of every PUBLISH in the stream.
	onPublish func(channel, message []byte)
	// onValue, if set, hears of every value fed, its size and the applied
	// offset after it (the shard's backlog, history.go).
	onValue func(v resp.Value, n, off int64)

	inMulti bool
	queued  [][][]byte
	pending int64 // bytes of the open MULTI so far, MULTI included

	// args is reused from command to command: the keyspace keeps no
	// argument list (it copies what it stores), and a queued MULTI command
	// gets its own copy.
	args [][]byte
}

// action tells the stream loop what to do after a value was fed.
type action struct {
	ack    bool  // answer REPLCONF ACK with ackOff
	ackOff int64 // the offset before the GETACK's own bytes
}

// feed handles one value of n bytes read from the stream. An error means
// the stream cannot go on: ErrProtocol for something that is not a
// command, ErrApply for a command the keyspace refused. Nothing of the
// failing value is counted.
func (a *applier) feed(v resp.Value, n int64) (action, error) {
	switch v.Kind {
	case resp.KindKeepalive:
		a.consume(n)
		return action{}, nil
	case resp.KindArray:
	default:
		return action{}, fmt.Errorf("%w: stream element at offset %d is a %s, not a command: %s", ErrProtocol, a.off+a.pending+1, v.Kind, clipText(v.String()))
	}
	if len(v.Array) == 0 { // "*0" and "*-1": Redis skips them, counting their bytes
		a.consume(n)
		return action{}, nil
	}
	args := a.args[:0]
	for i, e := range v.Array {
		if e.Kind != resp.KindBulkString || e.Null {
			return action{}, fmt.Errorf("%w: argument %d of a stream command at offset %d is a %s, not a bulk string", ErrProtocol, i, a.off+a.pending+1, kindName(e))
		}
		args = append(args, e.Str)
	}
	a.args = args
	act, err := a.command(args, n)
	clear(args) // the next command's bytes are its own: drop these
	return act, err
}

func (a *applier) command(args [][]byte, n int64) (action, error) {
	name := args[0]
	switch {
	case equalFold(name, "ping"), equalFold(name, "publish"):
		// The primary's keepalive, and pub/sub traffic a primary forwards to
		// its replicas' subscribers: counted, nothing to store.
		if a.onPublish != nil && len(args) == 3 && equalFold(name, "publish") {
			a.onPublish(args[1], args[2])
		}
		a.consume(n)
		return action{}, nil
	case equalFold(name, "replconf"):
		if len(args) >= 2 && equalFold(args[1], "getack") {
			act := action{ack: true, ackOff: a.off}
			a.consume(n)
			return act, nil
		}
		a.consume(n)
		return action{}, nil
	case equalFold(name, "multi"):
		if a.inMulti {
			return action{}, fmt.Errorf("%w: MULTI inside MULTI at offset %d", ErrProtocol, a.off+a.pending+1)
		}
		a.inMulti, a.queued, a.pending = true, nil, n
		return action{}, nil
	case equalFold(name, "exec"):
		if !a.inMulti {
			return action{}, fmt.Errorf("%w: EXEC without MULTI at offset %d", ErrProtocol, a.off+1)
		}
		return action{}, a.exec(n)
	case equalFold(name, "discard"):
		if !a.inMulti {
			return action{}, fmt.Errorf("%w: DISCARD without MULTI at offset %d", ErrProtocol, a.off+1)
		}
		a.off += a.pending + n
		a.inMulti, a.queued, a.pending = false, nil, 0
		return action{}, nil
	}
	if !equalFold(name, "select") && !keyspace.IsWrite(string(name)) {
		a.skip(args, fmt.Sprintf("%q at offset %d is not a write command this replica can apply", clipText(string(name)), a.off+a.pending+1))
		a.consume(n)
		return action{}, nil
	}
	if a.inMulti {
		a.queued = append(a.queued, slices.Clone(args))
		a.pending += n
		return action{}, nil
	}
	// Apply changes the database only on a SELECT that succeeds.
	reply, err := a.ks.Apply(&a.db, args)
	if err := applyError(args, reply, err); err != nil {
		if equalFold(name, "select") {
			// Every later command would land in the wrong database.
			return action{}, fmt.Errorf("%w at offset %d", err, a.off+1)
		}
		a.skip(args, fmt.Sprintf("%v at offset %d", err, a.off+1))
		a.off += n
		return action{}, nil
	}
	a.off += n
	if !equalFold(name, "select") {
		a.applied++
	}
	return action{}, nil
}

// exec applies the open transaction as one atomic step.
func (a *applier) exec(n int64) error {
	db := a.db
	results, err := a.ks.ExecAll(&db, a.queued)
	if err != nil {
		return fmt.Errorf("%w: transaction at offset %d: %v", ErrApply, a.off+1, err)
	}
	failed := 0
	for i, r := range results {
		// A primary propagates only commands that took effect, so an error
		// here means this replica cannot do what the primary did. The rest
		// of the transaction applied; this command is reported and skipped.
		if err := applyError(a.queued[i], r.Reply, nil); err != nil {
			a.skip(a.queued[i], fmt.Sprintf("%v in the transaction at offset %d", err, a.off+1))
			failed++
		}
	}
	a.db = db
	a.off += a.pending + n
	for _, args := range a.queued {
		if !equalFold(args[0], "select") {
			a.applied++
		}
	}
	a.applied -= uint64(failed)
	a.inMulti, a.queued, a.pending = false, nil, 0
	return nil
}

// skip reports a command that was not applied.
func (a *applier) skip(args [][]byte, reason string) {
	if a.onSkip != nil {
		a.onSkip(args, reason)
	}
}

// consume counts n bytes that change no data.
func (a *applier) consume(n int64) {
	if a.inMulti {
		a.pending += n
	} else {
		a.off += n
	}
}

func applyError(args [][]byte, reply resp.Value, err error) error {
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrApply, commandText(args), err)
	}
	if reply.Kind == resp.KindError {
		return fmt.Errorf("%w: %s: -%s", ErrApply, commandText(args), clipText(reply.Text()))
	}
	return nil
}

// commandText shows a command in failure reasons: the name and the first
// argument (usually the key), clipped.
func commandText(args [][]byte) string {
	s := string(args[0])
	if len(args) > 1 {
		s += " " + strconv.Quote(string(args[1]))
	}
	return clipText(s)
}

func kindName(v resp.Value) string {
	if v.Null {
		return "null " + v.Kind.String()
	}
	return v.Kind.String()
}

func equalFold(b []byte, s string) bool { return len(b) == len(s) && bytes.EqualFold(b, []byte(s)) }

// next reads one value from the stream and feeds it. Read errors come
// back as they are (io.EOF, io.ErrUnexpectedEOF, a net error, or one
// wrapping resp.ErrProtocol); nothing of a value that was not read whole is
// counted or applied.
func (a *applier) next(rd *resp.Reader) (action, error) {
	v, n, err := rd.ReadValue()
	if err != nil {
		return action{}, err
	}
	act, err := a.feed(v, n)
	if err == nil && a.onValue != nil {
		a.onValue(v, n, a.off)
	}
	return act, err
}

// stream reads and applies the command stream until it fails or the slot
// leaves the session. The shard's cursor follows the applier after every
// value, so ACKs and a later PSYNC see exactly what was applied.
func (s *session) stream(rd *resp.Reader) error {
	sh := s.sh
	cur := sh.cursor()
	log := s.logger() // once: a logger With attributes costs allocations
	ap := &applier{ks: sh.ks, db: cur.DB, off: cur.Offset, onSkip: func(args [][]byte, reason string) {
		if sh.noteUnapplied(args, reason) {
			log.Error("command from the primary not applied; skipped, the shard keeps streaming",
				slog.String("command", clipText(string(args[0]))), slog.String("reason", reason))
		}
	}, onPublish: func(ch, msg []byte) { s.rep.hub.Publish(ch, msg) },
		onValue: func(v resp.Value, n, off int64) { sh.keep(v, n, off, log) }}
	sh.histFrom(cur.Offset)
	dur := s.rep.dur
	for {
		if s.left.Load() {
			return errLeft
		}
		before, prevOff := ap.applied, ap.off
		act, err := ap.next(rd)
		switch {
		case err == nil:
		case errors.Is(err, errLeft), errors.Is(err, ErrProtocol), errors.Is(err, ErrApply):
			return err
		case errors.Is(err, io.EOF):
			return fmt.Errorf("stream from %s: connection closed at offset %d", sh.addr(), ap.off)
		default:
			return fmt.Errorf("stream from %s after offset %d: %w", sh.addr(), ap.off, err)
		}
		failpoint.Hit(failpoint.StreamApply)
		s.awaitStream.Store(false) // the stream has started: back to AckPeriod
		sh.advance(ap.db, ap.off, ap.applied-before)
		if dur != nil {
			// Between two values the keyspace holds exactly what the
			// cursor says: the one place a snapshot may be taken.
			dur.streamed(sh, ap.off-prevOff)
		}
		if act.ack {
			if err := s.write("REPLCONF", "ACK", itoa(act.ackOff)); err != nil {
				return err
			}
		}
	}
}
