package replica

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/replsm/replsm/redis/resp"
)

// replIDLen is the length of a Redis replication id (CONFIG_RUN_ID_SIZE).
const replIDLen = 40

// handshakeResult is the primary's answer to PSYNC.
type handshakeResult struct {
	full   bool
	replID string // +FULLRESYNC's id, or +CONTINUE's new id ("" when it kept the old one)
	offset int64  // +FULLRESYNC's offset
	line   string // the reply as received, for the transition record
}

// handshake runs PING, REPLCONF listening-port, REPLCONF capa and PSYNC and
// parses the PSYNC reply. Every reply comes back through rd, which skips
// the bare "\n" keepalives a primary may send while it prepares an RDB.
func (s *session) handshake(rd *resp.Reader) (handshakeResult, error) {
	if err := s.write("PING"); err != nil {
		return handshakeResult{}, err
	}
	v, err := s.reply(rd, "PING")
	if err != nil {
		return handshakeResult{}, err
	}
	if v.Kind != resp.KindSimpleString || !strings.EqualFold(v.Text(), "PONG") {
		if isBusy(v) {
			return handshakeResult{}, fmt.Errorf("%w: PING: %s", errBusy, clipText(replyText(v)))
		}
		// -NOAUTH, -ERR ...: Redis also gives up on anything but +PONG here.
		return handshakeResult{}, fmt.Errorf("PING: %s", clipText(replyText(v)))
	}

	// Redis logs a REPLCONF error and goes on (an old primary may not know
	// capa); so do we.
	for _, args := range [][]string{
		{"REPLCONF", "listening-port", strconv.Itoa(s.rep.listeningPort())},
		{"REPLCONF", "capa", "eof", "capa", "psync2"},
	} {
		if err := s.write(args...); err != nil {
			return handshakeResult{}, err
		}
		v, err := s.reply(rd, "REPLCONF")
		if err != nil {
			return handshakeResult{}, err
		}
		if v.Kind == resp.KindError {
			s.logger().Warn("primary refused REPLCONF; continuing", slog.String("args", strings.Join(args[1:], " ")), slog.String("reply", v.Text()))
		}
	}

	cur := s.sh.cursor()
	id, off := "?", "-1"
	if !s.full && cur.Valid() {
		id, off = cur.ReplID, strconv.FormatInt(cur.Offset+1, 10)
	}
	if err := s.write("PSYNC", id, off); err != nil {
		return handshakeResult{}, err
	}
	v, err = s.reply(rd, "PSYNC")
	if err != nil {
		return handshakeResult{}, err
	}
	return parsePSYNCReply(v)
}

// errBusy marks a handshake the primary answered with "not now": it is
// alive but cannot serve a replica yet. The session reports it as
// slot.Busy, which asks again after Config.SlotConfig.BusyPoll without
// spending the shard's recovery budget.
var errBusy = errors.New("primary busy")

// busyCodes are the error replies of a primary that will serve a replica
// soon: -LOADING (loading its dataset after a restart), -MASTERDOWN (a
// replica with replica-serve-stale-data no whose own link is down) and
// -NOMASTERLINK (a replica asked for PSYNC before its own link is up).
// Redis's own replica treats -LOADING and -NOMASTERLINK at PSYNC as "try
// later" too.
var busyCodes = []string{"LOADING", "MASTERDOWN", "NOMASTERLINK"}

// isBusy reports whether v is a busy error reply.
func isBusy(v resp.Value) bool {
	if v.Kind != resp.KindError {
		return false
	}
	code, _, _ := strings.Cut(v.Text(), " ")
	return slices.Contains(busyCodes, code)
}

// reply reads the next reply that is not a keepalive.
func (s *session) reply(rd *resp.Reader, what string) (resp.Value, error) {
	for {
		v, _, err := rd.ReadValue()
		if err != nil {
			if errors.Is(err, errLeft) {
				return resp.Value{}, err
			}
			return resp.Value{}, fmt.Errorf("%s: read reply from %s: %w", what, s.endpoint, err)
		}
		if v.Kind != resp.KindKeepalive {
			return v, nil
		}
	}
}

// parsePSYNCReply turns the primary's PSYNC reply into a result or a
// failure whose message quotes the reply.
//
//	+FULLRESYNC <replid: exactly 40 chars> <offset>   full sync; RDB follows
//	+CONTINUE [<new replid>]                          backlog bytes follow
//	-LOADING, -MASTERDOWN, -NOMASTERLINK ...          busy: ask again soon (errBusy)
//	-ERR ...                                          failed
func parsePSYNCReply(v resp.Value) (handshakeResult, error) {
	line := replyText(v)
	if v.Kind == resp.KindError {
		if isBusy(v) {
			return handshakeResult{}, fmt.Errorf("%w: PSYNC: %s", errBusy, clipText(line))
		}
		// The reason lands in records, logs and INFO: a huge error line
		// from a hostile peer is clipped like every other reply.
		return handshakeResult{}, fmt.Errorf("PSYNC: %s", clipText(line))
	}
	if v.Kind != resp.KindSimpleString {
		return handshakeResult{}, fmt.Errorf("%w: PSYNC answered with a %s: %s", ErrProtocol, v.Kind, clipText(line))
	}
	fields := strings.Split(v.Text(), " ")
	switch fields[0] {
	case "FULLRESYNC":
		if len(fields) != 3 {
			return handshakeResult{}, fmt.Errorf("%w: malformed %q: want +FULLRESYNC <replid> <offset>", ErrProtocol, clipText(line))
		}
		if len(fields[1]) != replIDLen {
			return handshakeResult{}, fmt.Errorf("%w: malformed %q: replication id has %d chars, want %d", ErrProtocol, clipText(line), len(fields[1]), replIDLen)
		}
		// At most 19 digits and no sign: ParseInt alone takes "+5" and any
		// number of leading zeros, and the line becomes a transition reason.
		off, err := strconv.ParseInt(fields[2], 10, 64)
		if err != nil || off < 0 || len(fields[2]) > 19 || fields[2][0] == '+' {
			return handshakeResult{}, fmt.Errorf("%w: malformed %q: offset %q is not a non-negative integer", ErrProtocol, clipText(line), clipText(fields[2]))
		}
		return handshakeResult{full: true, replID: fields[1], offset: off, line: line}, nil
	case "CONTINUE":
		switch {
		case len(fields) == 1:
			return handshakeResult{line: line}, nil
		case len(fields) == 2 && len(fields[1]) == replIDLen:
			return handshakeResult{replID: fields[1], line: line}, nil
		}
		return handshakeResult{}, fmt.Errorf("%w: malformed %q: want +CONTINUE [<40-char replid>]", ErrProtocol, clipText(line))
	}
	return handshakeResult{}, fmt.Errorf("%w: unexpected PSYNC reply %q", ErrProtocol, clipText(line))
}

// cont accepts a +CONTINUE: adopt the new replication id if the primary
// gave one (after a failover or a restart with SHUTDOWN SAVE the offsets
// carry on under it), then tell the slot.
func (s *session) cont(hs handshakeResult) error {
	if hs.replID != "" {
		s.sh.adoptReplID(hs.replID)
	}
	if err := s.sh.slot.SyncOK(s.id); err != nil {
		return fmt.Errorf("%w: %v", errLeft, err)
	}
	s.sh.partialSyncs.Add(1)
	s.phase.Store(int32(phaseStream))
	s.logger().Info("partial resync accepted", slog.String("reply", hs.line), slog.Int64("offset", s.sh.cursor().Offset))
	return nil
}

// replyText renders a reply as its line on the wire, without the CRLF:
// "+CONTINUE", "-LOADING Redis is loading the dataset in memory".
func replyText(v resp.Value) string {
	switch v.Kind {
	case resp.KindSimpleString:
		return "+" + v.Text()
	case resp.KindError:
		return "-" + v.Text()
	}
	return v.String()
}

// clipText keeps failure reasons readable when a peer sends a huge line.
func clipText(s string) string {
	const max = 128
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func timeOf(unixNano int64) time.Time { return time.Unix(0, unixNano) }
