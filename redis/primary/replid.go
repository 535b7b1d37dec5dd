package primary

import (
	"crypto/rand"
	"encoding/hex"
)

// replIDLen is the length of a replication id: Redis's CONFIG_RUN_ID_SIZE.
const replIDLen = 40

// newReplID draws a random replication id of 40 lower-case hex digits, as
// Redis's changeReplicationId does.
func newReplID() string {
	var b [replIDLen / 2]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
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
