package rdb

import (
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/replsm/replsm/redis/keyspace"
)

// Streams are decoded here rather than by hdt3213, whose model keeps an
// entry's fields in a map: field order and repeated fields, which XRANGE
// shows, would be lost. The layout is rdbSaveObject's (Redis 7.0 rdb.c):
//
//	nodes: count, then per node a 16-byte master ID and a listpack
//	length, last-id (ms, seq); v2+: first-id, max-deleted-id, entries-added
//	groups: count, then per group its name, last-id, v2+: entries-read,
//	  the PEL (16-byte ID, 8-byte delivery time, delivery count),
//	  consumers (name, seen-time, v3+: active-time, their PEL IDs)

// Stream listpack entry flags (t_stream.c).
const (
	streamFlagDeleted    = 1
	streamFlagSameFields = 2
)

func (s *decoder) streamValue(typ byte) (*keyspace.Stream, error) {
	at := s.off()
	st := &keyspace.Stream{}
	err := s.repeat(nil, func() error {
		nodeAt := s.off()
		key, err := s.str()
		if err != nil {
			return err
		}
		if len(key) != 16 {
			return corruptf(nodeAt, "stream node key of %d bytes", len(key))
		}
		master := keyspace.StreamID{Ms: binary.BigEndian.Uint64(key), Seq: binary.BigEndian.Uint64(key[8:])}
		lpAt := s.off()
		lp, err := s.blob()
		if err != nil {
			return err
		}
		entries, err := streamNode(lp, master)
		if err != nil {
			return corruptf(lpAt, "stream node: %v", err)
		}
		if len(st.Entries) > 0 && len(entries) > 0 && entries[0].ID.Compare(st.Entries[len(st.Entries)-1].ID) <= 0 {
			return corruptf(lpAt, "stream node out of order")
		}
		st.Entries = append(st.Entries, entries...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	length, err := s.length()
	if err != nil {
		return nil, err
	}
	if length != uint64(len(st.Entries)) {
		return nil, corruptf(at, "stream length %d, nodes hold %d entries", length, len(st.Entries))
	}
	if st.LastID, err = s.lengthID(); err != nil {
		return nil, err
	}
	if typ >= typeStreamListpack2 {
		if st.FirstID, err = s.lengthID(); err != nil {
			return nil, err
		}
		if st.MaxDeletedID, err = s.lengthID(); err != nil {
			return nil, err
		}
		if st.EntriesAdded, err = s.length(); err != nil {
			return nil, err
		}
	} else {
		// Redis 7.0 loads an older stream with these values (rdbLoadObject).
		st.EntriesAdded = length
		if len(st.Entries) > 0 {
			st.FirstID = st.Entries[0].ID
		}
	}
	err = s.repeat(nil, func() error {
		g, err := s.streamGroup(typ, st)
		if err == nil {
			st.Groups = append(st.Groups, g)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

func (s *decoder) streamGroup(typ byte, st *keyspace.Stream) (keyspace.StreamGroup, error) {
	var g keyspace.StreamGroup
	at := s.off()
	name, err := s.str()
	if err != nil {
		return g, err
	}
	g.Name = string(name)
	if g.LastID, err = s.lengthID(); err != nil {
		return g, err
	}
	g.EntriesRead = -1
	if typ >= typeStreamListpack2 {
		n, err := s.length()
		if err != nil {
			return g, err
		}
		g.EntriesRead = int64(n) // -1 is stored as the all-ones length
	} else {
		g.EntriesRead = keyspace.EstimateEntriesRead(st, g.LastID)
	}
	owner := map[keyspace.StreamID]int{} // PEL index by ID
	err = s.repeat(nil, func() error {
		raw, err := s.fixed(24)
		if err != nil {
			return err
		}
		count, err := s.length()
		if err != nil {
			return err
		}
		id := rawID(raw)
		if _, dup := owner[id]; dup {
			return corruptf(at, "group %q: duplicate pending entry %v", g.Name, id)
		}
		owner[id] = len(g.Pending)
		g.Pending = append(g.Pending, keyspace.StreamPending{ID: id,
			DeliveryTime: int64(binary.LittleEndian.Uint64(raw[16:])), DeliveryCount: count})
		return nil
	})
	if err != nil {
		return g, err
	}
	err = s.repeat(nil, func() error {
		name, err := s.str()
		if err != nil {
			return err
		}
		seen, err := s.fixed(8)
		if err != nil {
			return err
		}
		c := keyspace.StreamConsumer{Name: string(name), SeenTime: int64(binary.LittleEndian.Uint64(seen))}
		c.ActiveTime = c.SeenTime
		if typ >= typeStreamListpack3 {
			active, err := s.fixed(8)
			if err != nil {
				return err
			}
			c.ActiveTime = int64(binary.LittleEndian.Uint64(active))
		}
		g.Consumers = append(g.Consumers, c)
		return s.repeat(nil, func() error {
			raw, err := s.fixed(16)
			if err != nil {
				return err
			}
			i, ok := owner[rawID(raw)]
			if !ok || g.Pending[i].Consumer != "" {
				return corruptf(at, "group %q: consumer %q claims pending entry %v the group does not hold for it", g.Name, c.Name, rawID(raw))
			}
			g.Pending[i].Consumer = c.Name
			return nil
		})
	})
	if err != nil {
		return g, err
	}
	for _, p := range g.Pending {
		if p.Consumer == "" {
			return g, corruptf(at, "group %q: pending entry %v has no consumer", g.Name, p.ID)
		}
	}
	return g, nil
}

func rawID(b []byte) keyspace.StreamID {
	return keyspace.StreamID{Ms: binary.BigEndian.Uint64(b), Seq: binary.BigEndian.Uint64(b[8:])}
}

func (s *decoder) lengthID() (keyspace.StreamID, error) {
	ms, err := s.length()
	if err != nil {
		return keyspace.StreamID{}, err
	}
	seq, err := s.length()
	return keyspace.StreamID{Ms: ms, Seq: seq}, err
}

// streamNode decodes one node's listpack (streamAppendItem's layout): a
// master entry (count, deleted, field count, fields, 0), then per entry
// flags, ms and seq deltas, [field count, field/value pairs | values], and
// the entry's element count.
func streamNode(lp []byte, master keyspace.StreamID) ([]keyspace.StreamEntry, error) {
	if len(lp) < 7 || lp[len(lp)-1] != 0xFF || int(binary.LittleEndian.Uint32(lp)) != len(lp) {
		return nil, errf("bad listpack header")
	}
	r := &lpReader{b: lp, pos: 6}
	count, err := r.int()
	if err != nil {
		return nil, err
	}
	deleted, err := r.int()
	if err != nil {
		return nil, err
	}
	nf, err := r.int()
	if err != nil {
		return nil, err
	}
	if nf < 0 || nf > int64(len(lp)) || count < 0 || deleted < 0 {
		return nil, errf("bad master entry")
	}
	masterFields := make([][]byte, nf)
	for i := range masterFields {
		if masterFields[i], err = r.str(); err != nil {
			return nil, err
		}
	}
	if z, err := r.int(); err != nil || z != 0 {
		return nil, errf("bad master entry terminator")
	}
	var out []keyspace.StreamEntry
	live, dead := int64(0), int64(0)
	for !r.eof() {
		flags, err := r.int()
		if err != nil {
			return nil, err
		}
		dms, err := r.int()
		if err != nil {
			return nil, err
		}
		dseq, err := r.int()
		if err != nil {
			return nil, err
		}
		id := keyspace.StreamID{Ms: master.Ms + uint64(dms), Seq: master.Seq + uint64(dseq)}
		var fields [][]byte
		if flags&streamFlagSameFields != 0 {
			fields = make([][]byte, 0, 2*nf)
			for _, f := range masterFields {
				v, err := r.str()
				if err != nil {
					return nil, err
				}
				fields = append(fields, f, v)
			}
		} else {
			n, err := r.int()
			if err != nil {
				return nil, err
			}
			if n < 0 || n > int64(len(lp)) {
				return nil, errf("entry %v: %d fields", id, n)
			}
			fields = make([][]byte, 0, 2*n)
			for range 2 * n {
				v, err := r.str()
				if err != nil {
					return nil, err
				}
				fields = append(fields, v)
			}
		}
		if _, err := r.int(); err != nil { // lp-count, for backward walks
			return nil, err
		}
		if flags&streamFlagDeleted != 0 {
			dead++
			continue
		}
		if len(fields) == 0 {
			return nil, errf("entry %v has no fields", id)
		}
		if len(out) > 0 && id.Compare(out[len(out)-1].ID) <= 0 {
			return nil, errf("entry %v out of order", id)
		}
		live++
		out = append(out, keyspace.StreamEntry{ID: id, Fields: fields})
	}
	if live != count || dead != deleted {
		return nil, errf("master entry counts %d live and %d deleted, node holds %d and %d", count, deleted, live, dead)
	}
	return out, nil
}

type lpError string

func (e lpError) Error() string { return string(e) }

func errf(format string, args ...any) error {
	if len(args) == 0 {
		return lpError(format)
	}
	return lpError(fmt.Sprintf(format, args...))
}

// lpReader walks listpack elements (listpack.c's encodings), each followed
// by its back-length.
type lpReader struct {
	b   []byte
	pos int
}

func (r *lpReader) eof() bool { return r.pos < len(r.b) && r.b[r.pos] == 0xFF }

func (r *lpReader) need(n int) error {
	if n < 0 || len(r.b)-1-r.pos < n { // the final 0xFF is never content
		return errf("listpack element runs past the end")
	}
	return nil
}

// next returns the element as a string or an integer.
func (r *lpReader) next() (str []byte, n int64, isInt bool, err error) {
	if err := r.need(1); err != nil {
		return nil, 0, false, err
	}
	start := r.pos
	b := r.b[r.pos]
	var size int
	switch {
	case b&0x80 == 0:
		n, isInt, size = int64(b&0x7F), true, 1
	case b&0xC0 == 0x80:
		l := int(b & 0x3F)
		if err := r.need(1 + l); err != nil {
			return nil, 0, false, err
		}
		str, size = r.b[start+1:start+1+l], 1+l
	case b&0xE0 == 0xC0:
		if err := r.need(2); err != nil {
			return nil, 0, false, err
		}
		v := int64(b&0x1F)<<8 | int64(r.b[start+1])
		if v >= 1<<12 {
			v -= 1 << 13
		}
		n, isInt, size = v, true, 2
	case b&0xF0 == 0xE0:
		if err := r.need(2); err != nil {
			return nil, 0, false, err
		}
		l := int(b&0x0F)<<8 | int(r.b[start+1])
		if err := r.need(2 + l); err != nil {
			return nil, 0, false, err
		}
		str, size = r.b[start+2:start+2+l], 2+l
	case b == 0xF0:
		if err := r.need(5); err != nil {
			return nil, 0, false, err
		}
		l := int(binary.LittleEndian.Uint32(r.b[start+1:]))
		if err := r.need(5 + l); err != nil {
			return nil, 0, false, err
		}
		str, size = r.b[start+5:start+5+l], 5+l
	case b >= 0xF1 && b <= 0xF4:
		w := map[byte]int{0xF1: 2, 0xF2: 3, 0xF3: 4, 0xF4: 8}[b]
		if err := r.need(1 + w); err != nil {
			return nil, 0, false, err
		}
		var u uint64
		for i := w - 1; i >= 0; i-- {
			u = u<<8 | uint64(r.b[start+1+i])
		}
		shift := 64 - 8*w
		n, isInt, size = int64(u<<shift)>>shift, true, 1+w
	default:
		return nil, 0, false, errf("bad listpack encoding 0x%02x", b)
	}
	back := backlenSize(size)
	if err := r.need(size + back); err != nil {
		return nil, 0, false, err
	}
	r.pos += size + back
	return str, n, isInt, nil
}

// backlenSize is lpEncodeBacklen's length for an element of l bytes.
func backlenSize(l int) int {
	switch {
	case l <= 127:
		return 1
	case l < 16383:
		return 2
	case l < 2097151:
		return 3
	case l < 268435455:
		return 4
	}
	return 5
}

func (r *lpReader) int() (int64, error) {
	s, n, isInt, err := r.next()
	if err != nil || isInt {
		return n, err
	}
	v, perr := strconv.ParseInt(string(s), 10, 64)
	if perr != nil {
		return 0, errf("listpack element %q where an integer was expected", s)
	}
	return v, nil
}

func (r *lpReader) str() ([]byte, error) {
	s, n, isInt, err := r.next()
	if err != nil {
		return nil, err
	}
	if isInt {
		return strconv.AppendInt(nil, n, 10), nil
	}
	return append([]byte{}, s...), nil
}
