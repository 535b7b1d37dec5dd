package keyspace

import (
	"errors"
	"sync/atomic"
)

// DumpDecoder turns a DUMP payload (an RDB value, its RDB version and a
// CRC-64) into a Value. It returns ErrDumpChecksum for a payload whose
// footer does not verify, any other error for bad content.
type DumpDecoder func(payload []byte) (Value, error)

// ErrDumpChecksum is what a DumpDecoder returns for a payload whose RDB
// version or checksum is wrong (RESTORE then answers as Redis does).
var ErrDumpChecksum = errors.New("keyspace: DUMP payload version or checksum are wrong")

var dumpDecoder atomic.Pointer[DumpDecoder]

// SetDumpDecoder installs the decoder RESTORE uses. The RDB codec lives in
// a package that imports this one, so it registers itself (package
// redis/rdb does so in its init); without a decoder RESTORE is refused.
func SetDumpDecoder(d DumpDecoder) { dumpDecoder.Store(&d) }

// cmdRestore is restoreCommand: RESTORE key ttl payload [REPLACE] [ABSTTL]
// [IDLETIME s] [FREQ f]. A relative TTL is propagated as an absolute one
// with ABSTTL; on a replica a TTL already past still stores the key, which
// waits for the primary's DEL.
func cmdRestore(c *execCtx, args [][]byte) Reply {
	replace, absTTL := false, false
	idle, freq := false, false
	for j := 4; j < len(args); j++ {
		more := len(args) - j - 1
		switch opt := lower(args[j]); {
		case opt == "replace":
			replace = true
		case opt == "absttl":
			absTTL = true
		case opt == "idletime" && more >= 1 && !freq:
			n, ok := parseInt(args[j+1])
			if !ok {
				return notInteger()
			}
			if n < 0 {
				return errReply("ERR Invalid IDLETIME value, must be >= 0")
			}
			idle = true
			j++
		case opt == "freq" && more >= 1 && !idle:
			n, ok := parseInt(args[j+1])
			if !ok {
				return notInteger()
			}
			if n < 0 || n > 255 {
				return errReply("ERR Invalid FREQ value, must be >= 0 and <= 255")
			}
			freq = true
			j++
		default:
			return syntaxErr()
		}
	}
	key := args[1]
	if !replace && c.lookupWrite(key) != nil {
		return errReply("BUSYKEY Target key name already exists.")
	}
	ttl, ok := parseInt(args[2])
	if !ok {
		return notInteger()
	}
	if ttl < 0 {
		return errReply("ERR Invalid TTL value, must be >= 0")
	}
	dec := dumpDecoder.Load()
	if dec == nil {
		return errReply("ERR RESTORE is not available: no DUMP decoder installed")
	}
	v, err := (*dec)(args[3])
	if errors.Is(err, ErrDumpChecksum) {
		return errReply("ERR DUMP payload version or checksum are wrong")
	}
	if err != nil {
		return errReply("ERR Bad data format")
	}
	o, err := objectFromValue(c.gen(), v)
	if err != nil {
		return errReply("ERR Bad data format")
	}
	deleted := false
	if replace {
		deleted = c.db.remove(string(key))
	}
	if ttl > 0 && !absTTL {
		ttl += c.now
	}
	if ttl > 0 && ttl <= c.now && !c.k.replica {
		if deleted {
			c.rewrite = [][]byte{[]byte("DEL"), key}
			c.dirty++
		}
		return okReply()
	}
	c.setValue(key, o, false)
	if ttl > 0 {
		c.db.expires[string(key)] = ttl
		if !absTTL {
			form := cloneArgs(args)
			form[2] = formatInt(ttl)
			c.rewrite = append(form, []byte("ABSTTL"))
		}
	}
	c.dirty++
	return okReply()
}
