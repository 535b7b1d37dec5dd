package primary

import (
	"crypto/rand"
	"encoding/hex"
	"io"
)

// replIDLen is the length of a replication id: Redis's CONFIG_RUN_ID_SIZE.
const replIDLen = 40

// NewReplID draws a random replication id of 40 lower-case hex digits from
// r, as Redis's changeReplicationId does; nil r means crypto/rand. A reader
// that fails falls back to crypto/rand, so an id is always new.
func NewReplID(r io.Reader) string {
	var b [replIDLen / 2]byte
	if r == nil {
		r = rand.Reader
	}
	if _, err := io.ReadFull(r, b[:]); err != nil {
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	}
	return hex.EncodeToString(b[:])
}

// validReplID accepts what a follower can echo back in PSYNC: exactly 40
// ASCII letters or digits.
func validReplID(id string) bool {
	if len(id) != replIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}
