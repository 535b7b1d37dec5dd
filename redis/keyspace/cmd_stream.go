package keyspace

import (
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/replsm/replsm/redis/resp"
)

// Streams follow Redis 7.0's t_stream.c. What a replica receives is what a
// primary propagates: XADD with a concrete ID and exact trimming, XDEL,
// XTRIM, XSETID, XGROUP, XACK, and XCLAIM ... FORCE JUSTID LASTID for every
// change XREADGROUP, XCLAIM and XAUTOCLAIM make to a pending entries list.

func invalidStreamID() Reply {
	return errReply("ERR Invalid stream ID specified as stream command argument")
}

// readStream looks key up for a read. ok=false means the reply is set.
func (c *execCtx) readStream(key []byte) (*stream, Reply, bool) {
	o, ok := c.readTyped(key, TypeStream)
	if !ok {
		return nil, wrongType(), false
	}
	if o == nil {
		return nil, Reply{}, true
	}
	return o.strm, Reply{}, true
}

// writeStream looks key up for a write and returns an owned stream.
func (c *execCtx) writeStream(key []byte) (*stream, Reply, bool) {
	o, ok := c.writeTyped(key, TypeStream)
	if !ok {
		return nil, wrongType(), false
	}
	if o == nil {
		return nil, Reply{}, true
	}
	return o.strm, Reply{}, true
}

func entryReply(e StreamEntry) Reply {
	return resp.Array(bulkStr(e.ID.String()), bulkArray(e.Fields))
}

func idReply(id StreamID) Reply { return bulkStr(id.String()) }

// trimArgs is a parsed MAXLEN/MINID clause.
type trimArgs struct {
	strategy   byte // 0, 'l' (MAXLEN), 'm' (MINID)
	approx     bool
	maxlen     int64
	minid      StreamID
	argIdx     int // index of the threshold argument
	limit      int64
	limitGiven bool
	noMkStream bool
	id         StreamID
	idGiven    bool
	seqGiven   bool
	idPos      int
	errorReply *Reply
}

// parseAddOrTrim is streamParseAddOrTrimArgsOrReply.
func (c *execCtx) parseAddOrTrim(args [][]byte, xadd bool) trimArgs {
	var t trimArgs
	fail := func(r Reply) trimArgs { t.errorReply = &r; return t }
	i := 2
	for ; i < len(args); i++ {
		more := len(args) - 1 - i
		opt := lower(args[i])
		switch {
		case xadd && opt == "*":
			t.idPos = i
			goto done
		case (opt == "maxlen" || opt == "minid") && more > 0:
			if t.strategy != 0 {
				return fail(errReply("ERR syntax error, MAXLEN and MINID options at the same time are not compatible"))
			}
			t.approx = false
			next := string(args[i+1])
			if more >= 2 && next == "~" {
				t.approx = true
				i++
			} else if more >= 2 && next == "=" {
				i++
			}
			if opt == "maxlen" {
				n, ok := parseInt(args[i+1])
				if !ok {
					return fail(notInteger())
				}
				if n < 0 {
					return fail(errReply("ERR The MAXLEN argument must be >= 0."))
				}
				t.maxlen, t.strategy = n, 'l'
			} else {
				id, _, ok := parseStreamID(args[i+1], 0, true, false)
				if !ok {
					return fail(invalidStreamID())
				}
				t.minid, t.strategy = id, 'm'
			}
			i++
			t.argIdx = i
		case opt == "limit" && more > 0:
			n, ok := parseInt(args[i+1])
			if !ok {
				return fail(notInteger())
			}
			if n < 0 {
				return fail(errReply("ERR The LIMIT argument must be >= 0."))
			}
			t.limit, t.limitGiven = n, true
			i++
		case xadd && opt == "nomkstream":
			t.noMkStream = true
		case xadd:
			id, seqGiven, ok := parseStreamID(args[i], 0, true, true)
			if !ok {
				return fail(invalidStreamID())
			}
			t.id, t.seqGiven, t.idGiven, t.idPos = id, seqGiven, true, i
			goto done
		default:
			return fail(syntaxErr())
		}
	}
	t.idPos = i
done:
	if t.limit != 0 && t.strategy == 0 {
		return fail(errReply("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy"))
	}
	if !xadd && t.strategy == 0 {
		return fail(errReply("ERR syntax error, XTRIM must be called with a trimming strategy"))
	}
	// A replica obeys its primary, which already made trimming exact.
	if !c.k.replica && t.limitGiven && !t.approx {
		return fail(errReply("ERR syntax error, LIMIT cannot be used without the special ~ option"))
	}
	return t
}

// trim applies t exactly and returns the number of entries removed. A
// primary trims "~" exactly too (it has no radix-tree nodes to respect) and
// propagates the result as "=", as Redis does.
func (s *stream) trim(t trimArgs) int64 {
	if t.strategy == 'l' {
		return s.trimByLen(t.maxlen)
	}
	return s.trimByMinID(t.minid)
}

// rewriteTrim is streamRewriteApproxSpecifier + streamRewriteTrimArgument.
func rewriteTrim(args [][]byte, s *stream, t trimArgs) [][]byte {
	out := slices.Clone(args)
	out[t.argIdx-1] = []byte("=")
	if t.strategy == 'l' {
		out[t.argIdx] = formatInt(int64(len(s.entries)))
	} else {
		first := maxStreamID
		if len(s.entries) > 0 {
			first = s.entries[0].ID
		}
		out[t.argIdx] = []byte(first.String())
	}
	return out
}

func cmdXAdd(c *execCtx, args [][]byte) Reply {
	t := c.parseAddOrTrim(args, true)
	if t.errorReply != nil {
		return *t.errorReply
	}
	fieldPos := t.idPos + 1
	if n := len(args) - fieldPos; n < 2 || n%2 == 1 {
		return arityReply("xadd")
	}
	if t.idGiven && t.seqGiven && t.id.IsZero() {
		return errReply("ERR The ID specified in XADD must be greater than 0-0")
	}
	s, r, ok := c.writeStream(args[1])
	if !ok {
		return r
	}
	if s == nil {
		if t.noMkStream {
			return resp.NullBulk()
		}
		o := newStreamObject(c.gen())
		c.create(args[1], o)
		s = o.strm
	}
	if s.lastID == maxStreamID {
		return errReply("ERR The stream has exhausted the last possible ID, unable to add more items")
	}
	var id StreamID
	switch {
	case t.idGiven && t.seqGiven:
		id = t.id
	case t.idGiven:
		if s.lastID.Ms == t.id.Ms {
			if s.lastID.Seq == math.MaxUint64 {
				return errReply("ERR The ID specified in XADD is equal or smaller than the target stream top item")
			}
			id = StreamID{t.id.Ms, s.lastID.Seq + 1}
		} else {
			id = t.id
		}
	default:
		now := uint64(max(c.now, 0))
		if now > s.lastID.Ms {
			id = StreamID{now, 0}
		} else {
			id, _ = s.lastID.next()
		}
	}
	if id.Compare(s.lastID) <= 0 {
		return errReply("ERR The ID specified in XADD is equal or smaller than the target stream top item")
	}
	fields := make([][]byte, 0, len(args)-fieldPos)
	for _, f := range args[fieldPos:] {
		fields = append(fields, clone(f))
	}
	s.entries = append(s.entries, StreamEntry{ID: id, Fields: fields})
	s.entriesAdded++
	s.lastID = id
	if len(s.entries) == 1 {
		s.firstID = id
	}
	c.dirty++
	form := args
	if t.strategy != 0 {
		s.trim(t)
		if t.approx {
			form = rewriteTrim(form, s, t)
		}
	}
	if !t.idGiven || !t.seqGiven {
		form = slices.Clone(form)
		form[t.idPos] = []byte(id.String())
	}
	c.rewrite = form
	return idReply(id)
}

func cmdXTrim(c *execCtx, args [][]byte) Reply {
	t := c.parseAddOrTrim(args, false)
	if t.errorReply != nil {
		return *t.errorReply
	}
	s, r, ok := c.writeStream(args[1])
	if !ok {
		return r
	}
	if s == nil {
		return integer(0)
	}
	n := s.trim(t)
	if n > 0 {
		c.dirty += int(n)
		if t.approx {
			c.rewrite = rewriteTrim(args, s, t)
		}
	}
	return integer(n)
}

func cmdXDel(c *execCtx, args [][]byte) Reply {
	ids := make([]StreamID, 0, len(args)-2)
	for _, a := range args[2:] {
		id, _, ok := parseStreamID(a, 0, true, false)
		if !ok {
			return invalidStreamID()
		}
		ids = append(ids, id)
	}
	s, r, ok := c.writeStream(args[1])
	if !ok {
		return r
	}
	if s == nil {
		return integer(0)
	}
	deleted, first := 0, false
	for _, id := range ids {
		i := s.search(id)
		if i >= len(s.entries) || s.entries[i].ID != id {
			continue
		}
		s.entries = slices.Delete(slices.Clone(s.entries), i, i+1)
		if id == s.firstID {
			first = true
		}
		if id.Compare(s.maxDeleted) > 0 {
			s.maxDeleted = id
		}
		deleted++
	}
	if deleted > 0 {
		if len(s.entries) == 0 || first {
			s.updateFirst()
		}
		c.dirty += deleted
	}
	return integer(int64(deleted))
}

func cmdXSetID(c *execCtx, args [][]byte) Reply {
	id, _, ok := parseStreamID(args[2], 0, true, false)
	if !ok {
		return invalidStreamID()
	}
	entriesAdded := int64(-1)
	var maxDel StreamID
	for i := 3; i < len(args); i += 2 {
		opt := lower(args[i])
		if i+1 >= len(args) {
			return syntaxErr()
		}
		switch opt {
		case "entriesadded":
			n, ok := parseInt(args[i+1])
			if !ok {
				return notInteger()
			}
			if n < 0 {
				return errReply("ERR entries_added must be positive")
			}
			entriesAdded = n
		case "maxdeletedid":
			m, _, ok := parseStreamID(args[i+1], 0, true, false)
			if !ok {
				return invalidStreamID()
			}
			if id.Compare(m) < 0 {
				return errReply("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id")
			}
			maxDel = m
		default:
			return syntaxErr()
		}
	}
	s, r, ok := c.writeStream(args[1])
	if !ok {
		return r
	}
	if s == nil {
		return noSuchKey()
	}
	if len(s.entries) > 0 {
		if id.Compare(s.entries[len(s.entries)-1].ID) < 0 {
			return errReply("ERR The ID specified in XSETID is smaller than the target stream top item")
		}
		if entriesAdded != -1 && int64(len(s.entries)) > entriesAdded {
			return errReply("ERR The entries_added specified in XSETID is smaller than the target stream length")
		}
	}
	s.lastID = id
	if entriesAdded != -1 {
		s.entriesAdded = uint64(entriesAdded)
	}
	if !maxDel.IsZero() {
		s.maxDeleted = maxDel
	}
	c.dirty++
	return okReply()
}

func noGroupFor(group, key []byte) Reply {
	return errReply(fmt.Sprintf("NOGROUP No such consumer group '%s' for key name '%s'", group, key))
}

func cmdXGroup(c *execCtx, args [][]byte) Reply {
	sub := lower(args[1])
	if len(args) == 2 && sub == "help" {
		return bulkStrings([]string{"XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"})
	}
	subErr := errReply(fmt.Sprintf("ERR unknown subcommand or wrong number of arguments for '%.128s'. Try XGROUP HELP.", args[1]))
	if len(args) < 4 {
		return subErr
	}
	mkstream := false
	entriesRead := int64(invalidEntriesRead)
	for i := 5; i < len(args); {
		opt := lower(args[i])
		switch {
		case sub == "create" && opt == "mkstream":
			mkstream = true
			i++
		case (sub == "create" || sub == "setid") && opt == "entriesread" && i+1 < len(args):
			n, ok := parseInt(args[i+1])
			if !ok {
				return notInteger()
			}
			if n < 0 && n != invalidEntriesRead {
				return errReply("ERR value for ENTRIESREAD must be positive or -1")
			}
			entriesRead = n
			i += 2
		default:
			return subErr
		}
	}
	key, name := args[2], string(args[3])
	s, r, ok := c.writeStream(key)
	if !ok {
		return r
	}
	var g *streamGroup
	if !mkstream {
		if s == nil {
			return errReply("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.")
		}
		g = s.groups[name]
		if g == nil && (sub == "setid" || sub == "createconsumer" || sub == "delconsumer") {
			return noGroupFor(args[3], key)
		}
	}
	switch {
	case sub == "create" && len(args) >= 5 && len(args) <= 8:
		var id StreamID
		if string(args[4]) == "$" {
			if s != nil {
				id = s.lastID
			}
		} else if id, _, ok = parseStreamID(args[4], 0, true, false); !ok {
			return invalidStreamID()
		}
		if s == nil {
			o := newStreamObject(c.gen())
			c.create(key, o)
			s = o.strm
			c.dirty++
		}
		if _, exists := s.groups[name]; exists {
			return errReply("BUSYGROUP Consumer Group name already exists")
		}
		s.groups[name] = &streamGroup{lastID: id, entriesRead: entriesRead,
			pel: map[StreamID]*streamNack{}, consumers: map[string]*streamConsumer{}}
		c.dirty++
		return okReply()
	case sub == "setid" && (len(args) == 5 || len(args) == 7):
		var id StreamID
		if string(args[4]) == "$" {
			id = s.lastID
		} else if id, _, ok = parseStreamID(args[4], 0, false, false); !ok {
			return invalidStreamID()
		}
		g.lastID, g.entriesRead = id, entriesRead
		c.dirty++
		return okReply()
	case sub == "destroy" && len(args) == 4:
		if g == nil {
			return integer(0)
		}
		delete(s.groups, name)
		c.dirty++
		return integer(1)
	case sub == "createconsumer" && len(args) == 5:
		cn := string(args[4])
		if _, exists := g.consumers[cn]; exists {
			return integer(0)
		}
		g.consumers[cn] = &streamConsumer{seenTime: c.now, activeTime: -1, pel: map[StreamID]struct{}{}}
		c.dirty++
		return integer(1)
	case sub == "delconsumer" && len(args) == 5:
		cn := string(args[4])
		co := g.consumers[cn]
		if co == nil {
			return integer(0)
		}
		for id := range co.pel {
			delete(g.pel, id)
		}
		delete(g.consumers, cn)
		c.dirty++
		return integer(int64(len(co.pel)))
	}
	return subErr
}

func cmdXAck(c *execCtx, args [][]byte) Reply {
	s, r, ok := c.writeStream(args[1])
	if !ok {
		return r
	}
	if s == nil || s.groups[string(args[2])] == nil {
		return integer(0)
	}
	g := s.groups[string(args[2])]
	ids := make([]StreamID, 0, len(args)-3)
	for _, a := range args[3:] {
		id, _, ok := parseStreamID(a, 0, true, false)
		if !ok {
			return invalidStreamID()
		}
		ids = append(ids, id)
	}
	n := 0
	for _, id := range ids {
		if nack := g.pel[id]; nack != nil {
			delete(g.pel, id)
			if co := g.consumers[nack.consumer]; co != nil {
				delete(co.pel, id)
			}
			n++
		}
	}
	c.dirty += n
	return integer(int64(n))
}

// xclaimForm is streamPropagateXCLAIM's command.
func xclaimForm(key, group []byte, id StreamID, n *streamNack, lastID StreamID) [][]byte {
	return [][]byte{[]byte("XCLAIM"), clone(key), clone(group), []byte(n.consumer), []byte("0"),
		[]byte(id.String()), []byte("TIME"), formatInt(n.deliveryTime), []byte("RETRYCOUNT"),
		strconv.AppendUint(nil, n.deliveryCount, 10), []byte("FORCE"), []byte("JUSTID"),
		[]byte("LASTID"), []byte(lastID.String())}
}

func cmdXClaim(c *execCtx, args [][]byte) Reply {
	s, r, ok := c.writeStream(args[1])
	if !ok {
		return r
	}
	var g *streamGroup
	if s != nil {
		g = s.groups[string(args[2])]
	}
	if g == nil {
		return errReply(fmt.Sprintf("NOGROUP No such key '%s' or consumer group '%s'", args[1], args[2]))
	}
	minIdle, ok := parseInt(args[4])
	if !ok {
		return errReply("ERR Invalid min-idle-time argument for XCLAIM")
	}
	minIdle = max(minIdle, 0)
	j := 5
	var ids []StreamID
	for ; j < len(args); j++ {
		id, _, ok := parseStreamID(args[j], 0, true, false)
		if !ok {
			break
		}
		ids = append(ids, id)
	}
	now := c.now
	var lastID StreamID
	retry, delivery := int64(-1), int64(-1)
	force, justID := false, false
	for ; j < len(args); j++ {
		more := len(args) - 1 - j
		switch opt := lower(args[j]); {
		case opt == "force":
			force = true
		case opt == "justid":
			justID = true
		case opt == "idle" && more > 0:
			j++
			n, ok := parseInt(args[j])
			if !ok {
				return errReply("ERR Invalid IDLE option argument for XCLAIM")
			}
			delivery = now - n
		case opt == "time" && more > 0:
			j++
			n, ok := parseInt(args[j])
			if !ok {
				return errReply("ERR Invalid TIME option argument for XCLAIM")
			}
			delivery = n
		case opt == "retrycount" && more > 0:
			j++
			n, ok := parseInt(args[j])
			if !ok {
				return errReply("ERR Invalid RETRYCOUNT option argument for XCLAIM")
			}
			retry = n
		case opt == "lastid" && more > 0:
			j++
			id, _, ok := parseStreamID(args[j], 0, true, false)
			if !ok {
				return invalidStreamID()
			}
			lastID = id
		default:
			return errReply(fmt.Sprintf("ERR Unrecognized XCLAIM option '%s'", args[j]))
		}
	}
	propagateLast := false
	if lastID.Compare(g.lastID) > 0 {
		g.lastID = lastID
		propagateLast = true
	}
	if delivery < 0 || delivery > now {
		delivery = now
	}
	name := string(args[3])
	var out []Reply
	var consumer *streamConsumer
	c.suppress = true
	for _, id := range ids {
		nack := g.pel[id]
		if !s.exists(id) {
			if nack != nil {
				c.prop = append(c.prop, xclaimForm(args[1], args[2], id, nack, g.lastID))
				propagateLast = false
				c.dirty++
				delete(g.pel, id)
				if co := g.consumers[nack.consumer]; co != nil {
					delete(co.pel, id)
				}
			}
			continue
		}
		created := false
		if force && nack == nil {
			// streamCreateNACK: delivered now, once.
			nack = &streamNack{deliveryTime: now, deliveryCount: 1}
			g.pel[id] = nack
			created = true
		}
		if nack == nil {
			continue
		}
		if !created && minIdle > 0 && now-nack.deliveryTime < minIdle {
			continue
		}
		if consumer == nil {
			if consumer = g.consumers[name]; consumer == nil {
				consumer = &streamConsumer{activeTime: -1, pel: map[StreamID]struct{}{}}
				g.consumers[name] = consumer
			}
			consumer.seenTime = now
		}
		if !created && nack.consumer != name {
			if old := g.consumers[nack.consumer]; old != nil {
				delete(old.pel, id)
			}
		}
		nack.deliveryTime = delivery
		if retry >= 0 {
			nack.deliveryCount = uint64(retry)
		} else if !justID {
			nack.deliveryCount++
		}
		nack.consumer = name
		consumer.pel[id] = struct{}{}
		if justID {
			out = append(out, idReply(id))
		} else {
			out = append(out, entryReply(s.entries[s.search(id)]))
		}
		c.prop = append(c.prop, xclaimForm(args[1], args[2], id, nack, g.lastID))
		propagateLast = false
		c.dirty++
	}
	if propagateLast {
		c.prop = append(c.prop, [][]byte{[]byte("XGROUP"), []byte("SETID"), clone(args[1]), clone(args[2]),
			[]byte(g.lastID.String()), []byte("ENTRIESREAD"), formatInt(g.entriesRead)})
		c.dirty++
	}
	return resp.Array(out...)
}

// Reads.

// parseInterval is streamParseIntervalIDOrReply plus the exclusive-bound
// adjustment; end selects the missing-sequence default and direction.
func parseInterval(b []byte, end bool) (StreamID, *Reply) {
	missing := uint64(0)
	if end {
		missing = math.MaxUint64
	}
	excl := len(b) > 1 && b[0] == '('
	var id StreamID
	var ok bool
	if excl {
		id, _, ok = parseStreamID(b[1:], missing, true, false)
	} else {
		id, _, ok = parseStreamID(b, missing, false, false)
	}
	if !ok {
		r := invalidStreamID()
		return id, &r
	}
	if excl {
		if !end {
			if n, ok := id.next(); ok {
				return n, nil
			}
			r := errReply("ERR invalid start ID for the interval")
			return id, &r
		}
		switch {
		case id.Seq > 0:
			id.Seq--
		case id.Ms > 0:
			id = StreamID{id.Ms - 1, math.MaxUint64}
		default:
			r := errReply("ERR invalid end ID for the interval")
			return id, &r
		}
	}
	return id, nil
}

func xrange(c *execCtx, args [][]byte, rev bool) Reply {
	startArg, endArg := args[2], args[3]
	if rev {
		startArg, endArg = endArg, startArg
	}
	start, bad := parseInterval(startArg, false)
	if bad != nil {
		return *bad
	}
	end, bad := parseInterval(endArg, true)
	if bad != nil {
		return *bad
	}
	count := int64(-1)
	for j := 4; j < len(args); j++ {
		if lower(args[j]) == "count" && j+1 < len(args) {
			n, ok := parseInt(args[j+1])
			if !ok {
				return notInteger()
			}
			count = max(n, 0)
			j++
			continue
		}
		return syntaxErr()
	}
	s, r, ok := c.readStream(args[1])
	if !ok {
		return r
	}
	if s == nil {
		return resp.Array()
	}
	if count == 0 {
		return resp.NullArray()
	}
	return resp.Array(streamRange(s, start, end, count, rev)...)
}

func streamRange(s *stream, start, end StreamID, count int64, rev bool) []Reply {
	var out []Reply
	if start.Compare(end) > 0 {
		return out
	}
	lo, hi := s.search(start), len(s.entries)
	for hi > lo && s.entries[hi-1].ID.Compare(end) > 0 {
		hi--
	}
	if hi <= lo {
		return out
	}
	for i := range hi - lo {
		if count > 0 && int64(len(out)) >= count {
			break
		}
		idx := lo + i
		if rev {
			idx = hi - 1 - i
		}
		out = append(out, entryReply(s.entries[idx]))
	}
	return out
}

func cmdXRange(c *execCtx, args [][]byte) Reply    { return xrange(c, args, false) }
func cmdXRevRange(c *execCtx, args [][]byte) Reply { return xrange(c, args, true) }

func cmdXLen(c *execCtx, args [][]byte) Reply {
	s, r, ok := c.readStream(args[1])
	if !ok {
		return r
	}
	if s == nil {
		return integer(0)
	}
	return integer(int64(len(s.entries)))
}

func entriesReadReply(n int64) Reply {
	if n == invalidEntriesRead {
		return null()
	}
	return integer(n)
}

func lagReply(s *stream, g *streamGroup) Reply {
	if lag, ok := s.lag(g); ok {
		return integer(lag)
	}
	return null()
}

func cmdXInfo(c *execCtx, args [][]byte) Reply {
	sub := lower(args[1])
	subErr := errReply(fmt.Sprintf("ERR unknown subcommand or wrong number of arguments for '%.128s'. Try XINFO HELP.", args[1]))
	if len(args) < 3 {
		return subErr
	}
	s, r, ok := c.readStream(args[2])
	if !ok {
		return r
	}
	if s == nil {
		return noSuchKey()
	}
	switch {
	case sub == "consumers" && len(args) == 4:
		g := s.groups[string(args[3])]
		if g == nil {
			return noGroupFor(args[3], args[2])
		}
		var out []Reply
		for _, cn := range sortedKeys(g.consumers) {
			co := g.consumers[cn]
			out = append(out, resp.Array(bulkStr("name"), bulkStr(cn), bulkStr("pending"),
				integer(int64(len(co.pel))), bulkStr("idle"), integer(max(c.now-co.seenTime, 0))))
		}
		return resp.Array(out...)
	case sub == "groups" && len(args) == 3:
		var out []Reply
		for _, name := range sortedKeys(s.groups) {
			g := s.groups[name]
			out = append(out, resp.Array(bulkStr("name"), bulkStr(name),
				bulkStr("consumers"), integer(int64(len(g.consumers))),
				bulkStr("pending"), integer(int64(len(g.pel))),
				bulkStr("last-delivered-id"), idReply(g.lastID),
				bulkStr("entries-read"), entriesReadReply(g.entriesRead),
				bulkStr("lag"), lagReply(s, g)))
		}
		return resp.Array(out...)
	case sub == "stream":
		return xinfoStream(s, args[3:], subErr)
	}
	return subErr
}

func xinfoStream(s *stream, opts [][]byte, subErr Reply) Reply {
	full, count := false, int64(10)
	switch len(opts) {
	case 0:
	case 1, 3:
		if lower(opts[0]) != "full" {
			return subErr
		}
		full = true
		if len(opts) == 3 {
			if lower(opts[1]) != "count" {
				return subErr
			}
			n, ok := parseInt(opts[2])
			if !ok {
				return notInteger()
			}
			count = n
			if count < 0 {
				count = 10
			}
		}
	default:
		return subErr
	}
	// The radix tree is Redis's memory layout; a replica that holds no
	// such tree reports one node per 100 entries, Redis's default node size.
	nodes := int64((len(s.entries) + 99) / 100)
	out := []Reply{bulkStr("length"), integer(int64(len(s.entries))),
		bulkStr("radix-tree-keys"), integer(nodes),
		bulkStr("radix-tree-nodes"), integer(max(nodes, 1)),
		bulkStr("last-generated-id"), idReply(s.lastID),
		bulkStr("max-deleted-entry-id"), idReply(s.maxDeleted),
		bulkStr("entries-added"), integer(int64(s.entriesAdded)),
		bulkStr("recorded-first-entry-id"), idReply(s.firstID)}
	if !full {
		out = append(out, bulkStr("groups"), integer(int64(len(s.groups))))
		first, last := null(), null()
		if n := len(s.entries); n > 0 {
			first, last = entryReply(s.entries[0]), entryReply(s.entries[n-1])
		}
		return resp.Array(append(out, bulkStr("first-entry"), first, bulkStr("last-entry"), last)...)
	}
	entries := streamRange(s, StreamID{}, maxStreamID, count, false)
	groups := []Reply{}
	for _, name := range sortedKeys(s.groups) {
		g := s.groups[name]
		pel := []Reply{}
		for _, id := range sortedIDs(g.pel) {
			if count > 0 && int64(len(pel)) >= count {
				break
			}
			n := g.pel[id]
			pel = append(pel, resp.Array(idReply(id), bulkStr(n.consumer), integer(n.deliveryTime), integer(int64(n.deliveryCount))))
		}
		consumers := []Reply{}
		for _, cn := range sortedKeys(g.consumers) {
			co := g.consumers[cn]
			cpel := []Reply{}
			for _, id := range sortedIDs(co.pel) {
				if count > 0 && int64(len(cpel)) >= count {
					break
				}
				n := g.pel[id]
				cpel = append(cpel, resp.Array(idReply(id), integer(n.deliveryTime), integer(int64(n.deliveryCount))))
			}
			consumers = append(consumers, resp.Array(bulkStr("name"), bulkStr(cn), bulkStr("seen-time"), integer(co.seenTime),
				bulkStr("pel-count"), integer(int64(len(co.pel))), bulkStr("pending"), resp.Array(cpel...)))
		}
		groups = append(groups, resp.Array(bulkStr("name"), bulkStr(name),
			bulkStr("last-delivered-id"), idReply(g.lastID),
			bulkStr("entries-read"), entriesReadReply(g.entriesRead),
			bulkStr("lag"), lagReply(s, g),
			bulkStr("pel-count"), integer(int64(len(g.pel))),
			bulkStr("pending"), resp.Array(pel...),
			bulkStr("consumers"), resp.Array(consumers...)))
	}
	return resp.Array(append(out, bulkStr("entries"), resp.Array(entries...), bulkStr("groups"), resp.Array(groups...))...)
}

func cmdXPending(c *execCtx, args [][]byte) Reply {
	if len(args) != 3 && (len(args) < 6 || len(args) > 9) {
		return syntaxErr()
	}
	var start, end StreamID
	var count, minIdle int64
	var consumerName []byte
	if len(args) >= 6 {
		idx := 3
		if lower(args[3]) == "idle" {
			n, ok := parseInt(args[4])
			if !ok {
				return notInteger()
			}
			minIdle = n
			if len(args) < 8 {
				return syntaxErr()
			}
			idx += 2
		}
		n, ok := parseInt(args[idx+2])
		if !ok {
			return notInteger()
		}
		count = max(n, 0)
		var bad *Reply
		if start, bad = parseInterval(args[idx], false); bad != nil {
			return *bad
		}
		if end, bad = parseInterval(args[idx+1], true); bad != nil {
			return *bad
		}
		if idx+3 < len(args) {
			consumerName = args[idx+3]
		}
	}
	s, r, ok := c.readStream(args[1])
	if !ok {
		return r
	}
	var g *streamGroup
	if s != nil {
		g = s.groups[string(args[2])]
	}
	if g == nil {
		return errReply(fmt.Sprintf("NOGROUP No such key '%s' or consumer group '%s'", args[1], args[2]))
	}
	if len(args) == 3 {
		if len(g.pel) == 0 {
			return resp.Array(integer(0), null(), null(), resp.NullArray())
		}
		ids := sortedIDs(g.pel)
		var per []Reply
		for _, cn := range sortedKeys(g.consumers) {
			if n := len(g.consumers[cn].pel); n > 0 {
				per = append(per, resp.Array(bulkStr(cn), bulkStr(strconv.Itoa(n))))
			}
		}
		return resp.Array(integer(int64(len(ids))), idReply(ids[0]), idReply(ids[len(ids)-1]), resp.Array(per...))
	}
	pelIDs := sortedIDs(g.pel)
	if consumerName != nil {
		co := g.consumers[string(consumerName)]
		if co == nil {
			return resp.Array()
		}
		pelIDs = sortedIDs(co.pel)
	}
	out := []Reply{}
	for _, id := range pelIDs {
		if int64(len(out)) >= count {
			break
		}
		if id.Compare(start) < 0 || id.Compare(end) > 0 {
			continue
		}
		n := g.pel[id]
		idle := max(c.now-n.deliveryTime, 0)
		if minIdle > 0 && idle < minIdle {
			continue
		}
		out = append(out, resp.Array(idReply(id), bulkStr(n.consumer), integer(idle), integer(int64(n.deliveryCount))))
	}
	return resp.Array(out...)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// cmdXRead is XREAD [COUNT n] STREAMS key ... id ...: entries after each
// id ("$": none yet). BLOCK is refused: a replica's keyspace has no
// blocking clients.
func cmdXRead(c *execCtx, args [][]byte) Reply {
	count := int64(0)
	streamsAt := -1
	for j := 1; j < len(args); j++ {
		left := len(args) - j - 1
		switch opt := lower(args[j]); {
		case opt == "count" && left >= 1:
			n, ok := parseInt(args[j+1])
			if !ok {
				return notInteger()
			}
			count = max(n, 0)
			j++
		case opt == "block" && left >= 1:
			return errReply("ERR XREAD BLOCK is not supported by this keyspace")
		case opt == "streams" && left >= 1:
			streamsAt = j + 1
			j = len(args)
		default:
			return syntaxErr()
		}
	}
	if streamsAt < 0 {
		return syntaxErr()
	}
	rest := args[streamsAt:]
	if len(rest)%2 != 0 {
		return errReply("ERR Unbalanced 'xread' list of streams: for each stream key an ID or '$' must be specified.")
	}
	n := len(rest) / 2
	var out []Reply
	for i := range n {
		key, idArg := rest[i], rest[n+i]
		s, r, ok := c.readStream(key)
		if !ok {
			return r
		}
		var after StreamID
		if string(idArg) == "$" {
			if s == nil {
				continue
			}
			after = s.lastID
		} else {
			id, _, ok := parseStreamID(idArg, 0, true, false)
			if !ok {
				return invalidStreamID()
			}
			after = id
		}
		if s == nil {
			continue
		}
		start, ok := after.next()
		if !ok {
			continue
		}
		entries := streamRange(s, start, maxStreamID, count, false)
		if len(entries) > 0 {
			out = append(out, resp.Array(bulk(key), resp.Array(entries...)))
		}
	}
	if len(out) == 0 {
		return resp.NullArray()
	}
	return resp.Array(out...)
}
