package rdb

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/benbjohnson/clock"
	"github.com/hdt3213/rdb/crc64jones"

	"github.com/replsm/replsm/redis/keyspace"
)

func init() { keyspace.SetDumpDecoder(DecodeDump) }

// dumpRDBVersion is the newest payload version Redis 7.0 restores.
const dumpRDBVersion = 10

// DecodeDump decodes a DUMP payload: one RDB value (type byte and body),
// the 2-byte RDB version and the CRC-64 of both. A bad footer yields
// keyspace.ErrDumpChecksum; bad content an error wrapping ErrCorrupt or
// ErrUnsupported. The value goes through the same framing checks and
// decoder as a full sync.
func DecodeDump(payload []byte) (keyspace.Value, error) {
	if len(payload) < 11 {
		return keyspace.Value{}, keyspace.ErrDumpChecksum
	}
	footer := payload[len(payload)-10:]
	if binary.LittleEndian.Uint16(footer) > dumpRDBVersion {
		return keyspace.Value{}, keyspace.ErrDumpChecksum
	}
	h := crc64jones.New()
	_, _ = h.Write(payload[:len(payload)-8])
	if h.Sum64() != binary.LittleEndian.Uint64(footer[2:]) {
		return keyspace.Value{}, keyspace.ErrDumpChecksum
	}
	// An RDB of one key "k" holding the value, with the all-zero checksum.
	var b bytes.Buffer
	b.WriteString("REDIS0010")
	b.WriteByte(payload[0])
	b.Write([]byte{1, 'k'})
	b.Write(payload[1 : len(payload)-10])
	b.WriteByte(opEOF)
	b.Write(make([]byte, 8))
	ks, info, err := LoadBytes(b.Bytes(), clock.New())
	if err != nil {
		return keyspace.Value{}, err
	}
	if info.Keys != 1 {
		return keyspace.Value{}, fmt.Errorf("%w: DUMP payload holds an empty value", ErrCorrupt)
	}
	var v keyspace.Value
	err = ks.Each(func(_ int, _ string, val keyspace.Value, _ int64) error {
		v = val
		return nil
	})
	return v, err
}
