package keyspace

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// StreamID is a stream entry ID: milliseconds and a sequence number.
type StreamID struct {
	Ms, Seq uint64
}

// maxStreamID is the largest ID ("+").
var maxStreamID = StreamID{math.MaxUint64, math.MaxUint64}

// Compare orders IDs: -1, 0 or +1.
func (a StreamID) Compare(b StreamID) int {
	switch {
	case a.Ms < b.Ms:
		return -1
	case a.Ms > b.Ms:
		return 1
	case a.Seq < b.Seq:
		return -1
	case a.Seq > b.Seq:
		return 1
	}
	return 0
}

// IsZero reports whether a is 0-0.
func (a StreamID) IsZero() bool { return a.Ms == 0 && a.Seq == 0 }

// String renders the ID as Redis does: "ms-seq".
func (a StreamID) String() string {
	return strconv.FormatUint(a.Ms, 10) + "-" + strconv.FormatUint(a.Seq, 10)
}

// next is the smallest ID after a, wrapping into the next millisecond.
func (a StreamID) next() (StreamID, bool) {
	switch {
	case a.Seq < math.MaxUint64:
		return StreamID{a.Ms, a.Seq + 1}, true
	case a.Ms < math.MaxUint64:
		return StreamID{a.Ms + 1, 0}, true
	}
	return a, false
}

// StreamEntry is one entry: its ID and its field/value pairs in order
// (Fields[0] is the first field, Fields[1] its value, ...).
type StreamEntry struct {
	ID     StreamID
	Fields [][]byte
}

// StreamPending is one entry of a consumer group's pending entries list.
type StreamPending struct {
	ID            StreamID
	Consumer      string
	DeliveryTime  int64 // unix ms of the last delivery
	DeliveryCount uint64
}

// StreamConsumer is a consumer of a group. Its pending entries are those of
// the group's Pending list that name it.
type StreamConsumer struct {
	Name     string
	SeenTime int64 // unix ms
	// ActiveTime is the unix ms of the last successful read (RDB 11+; 7.0
	// does not keep it and reports SeenTime).
	ActiveTime int64
}

// StreamGroup is a consumer group.
type StreamGroup struct {
	Name   string
	LastID StreamID
	// EntriesRead is the group's logical read counter, -1 when unknown.
	EntriesRead int64
	// Pending is the group's PEL ordered by ID.
	Pending []StreamPending
	// Consumers are ordered by name.
	Consumers []StreamConsumer
}

// Stream is a stream's content as Each presents it and Put accepts it.
type Stream struct {
	// Entries are ordered by ID, without deleted ones.
	Entries      []StreamEntry
	LastID       StreamID
	FirstID      StreamID // "recorded-first-entry-id"; 0-0 when empty
	MaxDeletedID StreamID
	EntriesAdded uint64
	// Groups are ordered by name.
	Groups []StreamGroup
}

// stream is the stored form. Entries are never modified in place, so a
// clone shares them.
type stream struct {
	entries      []StreamEntry
	lastID       StreamID
	firstID      StreamID
	maxDeleted   StreamID
	entriesAdded uint64
	groups       map[string]*streamGroup
}

type streamGroup struct {
	lastID      StreamID
	entriesRead int64
	pel         map[StreamID]*streamNack
	consumers   map[string]*streamConsumer
}

type streamNack struct {
	consumer      string
	deliveryTime  int64
	deliveryCount uint64
}

type streamConsumer struct {
	seenTime, activeTime int64
	pel                  map[StreamID]struct{}
}

// invalidEntriesRead is SCG_INVALID_ENTRIES_READ.
const invalidEntriesRead = -1

func newStreamObject(gen uint64) *object {
	return &object{colls: &colls{gen: gen, typ: TypeStream, strm: &stream{groups: map[string]*streamGroup{}}}}
}

func (s *stream) clone() *stream {
	c := *s
	c.entries = slices.Clone(s.entries)
	c.groups = make(map[string]*streamGroup, len(s.groups))
	for name, g := range s.groups {
		ng := &streamGroup{lastID: g.lastID, entriesRead: g.entriesRead,
			pel:       make(map[StreamID]*streamNack, len(g.pel)),
			consumers: make(map[string]*streamConsumer, len(g.consumers))}
		for id, n := range g.pel {
			nn := *n
			ng.pel[id] = &nn
		}
		for cn, co := range g.consumers {
			ng.consumers[cn] = &streamConsumer{seenTime: co.seenTime, activeTime: co.activeTime, pel: maps.Clone(co.pel)}
		}
		c.groups[name] = ng
	}
	return &c
}

func (s *stream) export() *Stream {
	out := &Stream{Entries: s.entries, LastID: s.lastID, FirstID: s.firstID,
		MaxDeletedID: s.maxDeleted, EntriesAdded: s.entriesAdded}
	for _, name := range slices.Sorted(maps.Keys(s.groups)) {
		g := s.groups[name]
		eg := StreamGroup{Name: name, LastID: g.lastID, EntriesRead: g.entriesRead}
		for _, id := range sortedIDs(g.pel) {
			n := g.pel[id]
			eg.Pending = append(eg.Pending, StreamPending{ID: id, Consumer: n.consumer, DeliveryTime: n.deliveryTime, DeliveryCount: n.deliveryCount})
		}
		for _, cn := range slices.Sorted(maps.Keys(g.consumers)) {
			co := g.consumers[cn]
			eg.Consumers = append(eg.Consumers, StreamConsumer{Name: cn, SeenTime: co.seenTime, ActiveTime: co.activeTime})
		}
		out.Groups = append(out.Groups, eg)
	}
	return out
}

// streamFromValue validates and imports a Stream.
func streamFromValue(gen uint64, v *Stream) (*object, error) {
	if v == nil {
		return nil, invalidf("nil stream")
	}
	o := newStreamObject(gen)
	s := o.strm
	for i, e := range v.Entries {
		if i > 0 && e.ID.Compare(v.Entries[i-1].ID) <= 0 {
			return nil, invalidf("stream entries out of order at %v", e.ID)
		}
		if len(e.Fields) == 0 || len(e.Fields)%2 != 0 {
			return nil, invalidf("stream entry %v has %d field/value items", e.ID, len(e.Fields))
		}
	}
	if n := len(v.Entries); n > 0 && v.Entries[n-1].ID.Compare(v.LastID) > 0 {
		return nil, invalidf("stream last id %v below its top entry %v", v.LastID, v.Entries[n-1].ID)
	}
	s.entries = v.Entries
	s.lastID, s.firstID, s.maxDeleted, s.entriesAdded = v.LastID, v.FirstID, v.MaxDeletedID, v.EntriesAdded
	for _, g := range v.Groups {
		if _, dup := s.groups[g.Name]; dup {
			return nil, invalidf("duplicate consumer group %q", g.Name)
		}
		sg := &streamGroup{lastID: g.LastID, entriesRead: g.EntriesRead,
			pel: map[StreamID]*streamNack{}, consumers: map[string]*streamConsumer{}}
		for _, c := range g.Consumers {
			if _, dup := sg.consumers[c.Name]; dup {
				return nil, invalidf("duplicate consumer %q in group %q", c.Name, g.Name)
			}
			sg.consumers[c.Name] = &streamConsumer{seenTime: c.SeenTime, activeTime: c.ActiveTime, pel: map[StreamID]struct{}{}}
		}
		for _, p := range g.Pending {
			co := sg.consumers[p.Consumer]
			if co == nil {
				return nil, invalidf("pending entry %v of group %q names unknown consumer %q", p.ID, g.Name, p.Consumer)
			}
			if _, dup := sg.pel[p.ID]; dup {
				return nil, invalidf("duplicate pending entry %v in group %q", p.ID, g.Name)
			}
			sg.pel[p.ID] = &streamNack{consumer: p.Consumer, deliveryTime: p.DeliveryTime, deliveryCount: p.DeliveryCount}
			co.pel[p.ID] = struct{}{}
		}
		s.groups[g.Name] = sg
	}
	return o, nil
}

func sortedIDs[V any](m map[StreamID]V) []StreamID {
	ids := slices.Collect(maps.Keys(m))
	slices.SortFunc(ids, StreamID.Compare)
	return ids
}

// search returns the index of the first entry with ID >= id.
func (s *stream) search(id StreamID) int {
	i, _ := slices.BinarySearchFunc(s.entries, id, func(e StreamEntry, t StreamID) int { return e.ID.Compare(t) })
	return i
}

func (s *stream) exists(id StreamID) bool {
	i := s.search(id)
	return i < len(s.entries) && s.entries[i].ID == id
}

// updateFirst recomputes firstID after a deletion, as streamGetEdgeID.
func (s *stream) updateFirst() {
	if len(s.entries) == 0 {
		s.firstID = StreamID{}
		return
	}
	s.firstID = s.entries[0].ID
}

// trimByLen drops the oldest entries beyond maxlen; it returns how many.
func (s *stream) trimByLen(maxlen int64) int64 {
	n := int64(len(s.entries)) - maxlen
	if n <= 0 {
		return 0
	}
	s.entries = slices.Clone(s.entries[n:])
	s.updateFirst()
	return n
}

// trimByMinID drops entries below minid; it returns how many.
func (s *stream) trimByMinID(minid StreamID) int64 {
	n := s.search(minid)
	if n == 0 {
		return 0
	}
	s.entries = slices.Clone(s.entries[n:])
	s.updateFirst()
	return int64(n)
}

// rangeHasTombstones is streamRangeHasTombstones.
func (s *stream) rangeHasTombstones(start, end StreamID) bool {
	if len(s.entries) == 0 || s.maxDeleted.IsZero() {
		return false
	}
	if s.firstID.Compare(s.maxDeleted) > 0 {
		return false
	}
	return start.Compare(s.maxDeleted) <= 0 && s.maxDeleted.Compare(end) <= 0
}

// estimateDistance is streamEstimateDistanceFromFirstEverEntry.
func (s *stream) estimateDistance(id StreamID) int64 {
	if s.entriesAdded == 0 {
		return 0
	}
	if len(s.entries) == 0 && id.Compare(s.lastID) < 1 {
		return int64(s.entriesAdded)
	}
	switch c := id.Compare(s.lastID); {
	case c == 0:
		return int64(s.entriesAdded)
	case c > 0:
		return invalidEntriesRead
	}
	cmpFirst := id.Compare(s.firstID)
	if s.maxDeleted.IsZero() || s.maxDeleted.Compare(s.firstID) < 0 {
		switch {
		case cmpFirst < 0:
			return int64(s.entriesAdded) - int64(len(s.entries))
		case cmpFirst == 0:
			return int64(s.entriesAdded) - int64(len(s.entries)) + 1
		}
	}
	return invalidEntriesRead
}

// lag is streamReplyWithCGLag: the group's lag and whether it is known.
func (s *stream) lag(g *streamGroup) (int64, bool) {
	if s.entriesAdded == 0 {
		return 0, true
	}
	if g.entriesRead != invalidEntriesRead && !s.rangeHasTombstones(g.lastID, maxStreamID) {
		return int64(s.entriesAdded) - g.entriesRead, true
	}
	if er := s.estimateDistance(g.lastID); er != invalidEntriesRead {
		return int64(s.entriesAdded) - er, true
	}
	return 0, false
}

// parseStreamID parses "ms-seq", "ms" (seq = missingSeq), "-" and "+"
// (unless strict). seqGiven is false for "ms-*" when allowed.
func parseStreamID(b []byte, missingSeq uint64, strict, allowStar bool) (id StreamID, seqGiven, ok bool) {
	s := string(b)
	if len(s) > 127 {
		return id, false, false
	}
	if s == "-" || s == "+" {
		if strict {
			return id, false, false
		}
		if s == "-" {
			return StreamID{}, true, true
		}
		return maxStreamID, true, true
	}
	msPart, seqPart, hasDot := strings.Cut(s, "-")
	ms, ok := parseUint(msPart)
	if !ok {
		return id, false, false
	}
	seq := missingSeq
	seqGiven = true
	if hasDot {
		if allowStar && seqPart == "*" {
			seq, seqGiven = 0, false
		} else if seq, ok = parseUint(seqPart); !ok {
			return id, false, false
		}
	}
	return StreamID{ms, seq}, seqGiven, true
}

// parseUint is string2ull: decimal digits only, no sign, no overflow.
func parseUint(s string) (uint64, bool) {
	if s == "" || len(s) > 20 {
		return 0, false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidValue, fmt.Sprintf(format, args...))
}

// EstimateEntriesRead is the entries-read counter Redis 7.0 gives a
// consumer group whose last delivered ID is id when it loads the group from
// an RDB older than version 10, which did not store it; -1 means unknown.
func EstimateEntriesRead(s *Stream, id StreamID) int64 {
	st := &stream{entries: s.Entries, lastID: s.LastID, firstID: s.FirstID,
		maxDeleted: s.MaxDeletedID, entriesAdded: s.EntriesAdded}
	return st.estimateDistance(id)
}
