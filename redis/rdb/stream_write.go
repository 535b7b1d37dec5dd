package rdb

import (
	"bytes"
	"encoding/binary"
	"strconv"

	"github.com/replsm/replsm/redis/keyspace"
)

// The hdt3213 encoder writes stream entries from a map (field order lost),
// so streams are serialized here and written around it, straight into the
// output after the encoder's last object (see writeAll).

// streamNodeEntries is Redis's stream-node-max-entries default.
const streamNodeEntries = 100

// appendStream appends a stream value, RDB_TYPE_STREAM_LISTPACKS_2 (what
// Redis 7.0 writes), with its expiry and key.
func appendStream(b []byte, key string, st *keyspace.Stream, expireAt int64) []byte {
	if expireAt != keyspace.NoExpire {
		b = append(b, opExpireTimeMs)
		b = binary.LittleEndian.AppendUint64(b, uint64(expireAt))
	}
	b = append(b, typeStreamListpack2)
	b = appendRDBString(b, []byte(key))
	nodes := (len(st.Entries) + streamNodeEntries - 1) / streamNodeEntries
	b = appendRDBLen(b, uint64(nodes))
	for i := 0; i < len(st.Entries); i += streamNodeEntries {
		node := st.Entries[i:min(i+streamNodeEntries, len(st.Entries))]
		var id [16]byte
		binary.BigEndian.PutUint64(id[:], node[0].ID.Ms)
		binary.BigEndian.PutUint64(id[8:], node[0].ID.Seq)
		b = appendRDBString(b, id[:])
		b = appendRDBString(b, streamListpack(node))
	}
	b = appendRDBLen(b, uint64(len(st.Entries)))
	b = appendLenID(b, st.LastID)
	b = appendLenID(b, st.FirstID)
	b = appendLenID(b, st.MaxDeletedID)
	b = appendRDBLen(b, st.EntriesAdded)
	b = appendRDBLen(b, uint64(len(st.Groups)))
	for _, g := range st.Groups {
		b = appendRDBString(b, []byte(g.Name))
		b = appendLenID(b, g.LastID)
		b = appendRDBLen(b, uint64(g.EntriesRead)) // -1 as all ones, as Redis does
		b = appendRDBLen(b, uint64(len(g.Pending)))
		for _, p := range g.Pending {
			b = appendRawID(b, p.ID)
			b = binary.LittleEndian.AppendUint64(b, uint64(p.DeliveryTime))
			b = appendRDBLen(b, p.DeliveryCount)
		}
		b = appendRDBLen(b, uint64(len(g.Consumers)))
		for _, c := range g.Consumers {
			b = appendRDBString(b, []byte(c.Name))
			b = binary.LittleEndian.AppendUint64(b, uint64(c.SeenTime))
			var ids []keyspace.StreamID
			for _, p := range g.Pending {
				if p.Consumer == c.Name {
					ids = append(ids, p.ID)
				}
			}
			b = appendRDBLen(b, uint64(len(ids)))
			for _, id := range ids {
				b = appendRawID(b, id)
			}
		}
	}
	return b
}

// streamListpack builds a node as streamAppendItem would: the first
// entry's fields are the master fields.
func streamListpack(node []keyspace.StreamEntry) []byte {
	master := node[0]
	var lp listpackBuilder
	lp.int(int64(len(node)))
	lp.int(0) // deleted
	nf := len(master.Fields) / 2
	lp.int(int64(nf))
	for i := 0; i < len(master.Fields); i += 2 {
		lp.str(master.Fields[i])
	}
	lp.int(0)
	for _, e := range node {
		same := len(e.Fields) == len(master.Fields)
		for i := 0; same && i < len(e.Fields); i += 2 {
			same = bytes.Equal(e.Fields[i], master.Fields[i])
		}
		flags := int64(0)
		if same {
			flags = streamFlagSameFields
		}
		lp.int(flags)
		lp.int(int64(e.ID.Ms - master.ID.Ms))
		lp.int(int64(e.ID.Seq - master.ID.Seq))
		n := len(e.Fields) / 2
		if !same {
			lp.int(int64(n))
		}
		for i := 0; i < len(e.Fields); i += 2 {
			if !same {
				lp.str(e.Fields[i])
			}
			lp.str(e.Fields[i+1])
		}
		count := int64(n + 3)
		if !same {
			count += int64(n + 1)
		}
		lp.int(count)
	}
	return lp.finish()
}

type listpackBuilder struct {
	body  []byte
	count int
}

func (l *listpackBuilder) element(enc []byte) {
	l.body = append(l.body, enc...)
	l.body = appendBacklen(l.body, len(enc))
	l.count++
}

// str stores s as lpAppend does: a string that is a canonical integer is
// stored as one.
func (l *listpackBuilder) str(s []byte) {
	if len(s) <= 20 {
		if n, err := strconv.ParseInt(string(s), 10, 64); err == nil && strconv.FormatInt(n, 10) == string(s) {
			l.int(n)
			return
		}
	}
	var enc []byte
	switch n := len(s); {
	case n < 64:
		enc = append([]byte{0x80 | byte(n)}, s...)
	case n < 4096:
		enc = append([]byte{0xE0 | byte(n>>8), byte(n)}, s...)
	default:
		enc = binary.LittleEndian.AppendUint32([]byte{0xF0}, uint32(n))
		enc = append(enc, s...)
	}
	l.element(enc)
}

func (l *listpackBuilder) int(v int64) {
	var enc []byte
	switch {
	case v >= 0 && v <= 127:
		enc = []byte{byte(v)}
	case v >= -4096 && v <= 4095:
		u := uint16(v) & 0x1FFF
		enc = []byte{0xC0 | byte(u>>8), byte(u)}
	case v >= -32768 && v <= 32767:
		enc = binary.LittleEndian.AppendUint16([]byte{0xF1}, uint16(v))
	case v >= -8388608 && v <= 8388607:
		u := uint32(v)
		enc = []byte{0xF2, byte(u), byte(u >> 8), byte(u >> 16)}
	case v >= -2147483648 && v <= 2147483647:
		enc = binary.LittleEndian.AppendUint32([]byte{0xF3}, uint32(v))
	default:
		enc = binary.LittleEndian.AppendUint64([]byte{0xF4}, uint64(v))
	}
	l.element(enc)
}

func (l *listpackBuilder) finish() []byte {
	out := make([]byte, 6, 6+len(l.body)+1)
	binary.LittleEndian.PutUint32(out, uint32(6+len(l.body)+1))
	n := l.count
	if n >= 0xFFFF {
		n = 0xFFFF
	}
	binary.LittleEndian.PutUint16(out[4:], uint16(n))
	return append(append(out, l.body...), 0xFF)
}

// appendBacklen is lpEncodeBacklen: the element length in 7-bit groups,
// most significant first, every byte but the last with the high bit set.
func appendBacklen(b []byte, l int) []byte {
	size := backlenSize(l)
	out := make([]byte, size)
	for i := 0; i < size; i++ {
		out[i] = byte(l>>(7*(size-1-i))) & 0x7F
		if i > 0 {
			out[i] |= 0x80
		}
	}
	return append(b, out...)
}

func appendRDBLen(b []byte, n uint64) []byte {
	switch {
	case n < 1<<6:
		return append(b, byte(n))
	case n < 1<<14:
		return append(b, 0x40|byte(n>>8), byte(n))
	case n <= 0xFFFFFFFF:
		return binary.BigEndian.AppendUint32(append(b, 0x80), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(b, 0x81), n)
}

func appendRDBString(b, s []byte) []byte {
	return append(appendRDBLen(b, uint64(len(s))), s...)
}

func appendLenID(b []byte, id keyspace.StreamID) []byte {
	return appendRDBLen(appendRDBLen(b, id.Ms), id.Seq)
}

func appendRawID(b []byte, id keyspace.StreamID) []byte {
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(b, id.Ms), id.Seq)
}
