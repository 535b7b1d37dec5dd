package replica

import (
	"bufio"
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/redis/resp"
)

// maxReasonLen bounds what a hostile reply can put into a failure reason, a
// transition record or a log line: clipped text plus our own words.
const maxReasonLen = 512

var longInfo = "role:slave\r\nmaster_host:" + strings.Repeat("h", 600) + "\r\nmaster_port:1\r\n"

// FuzzHandshakeReplies feeds hostile bytes to the parsers of what a primary
// answers during the handshake and the meta step: the PSYNC reply
// (+FULLRESYNC, +CONTINUE, -ERR/-LOADING ...), ROLE and INFO replication.
// None may panic; what they accept must be well-formed; what they say about
// the bytes must stay short.
func FuzzHandshakeReplies(f *testing.F) {
	for _, s := range []string{
		"+FULLRESYNC " + replID1 + " 0\r\n",
		"\n\n+FULLRESYNC " + replID1 + " 12345\r\n",
		"+FULLRESYNC " + replID1 + " -1\r\n",
		"+FULLRESYNC " + replID1 + " +7\r\n",
		"+CONTINUE\r\n",
		"+CONTINUE " + replID2 + "\r\n",
		"+CONTINUE " + replID2 + " extra\r\n",
		"-LOADING Redis is loading the dataset in memory\r\n",
		"-ERR " + strings.Repeat("x", 600) + "\r\n",
		"-NOMASTERLINK Can't SYNC while not connected with my master\r\n",
		":1\r\n",
		"*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n",
		"*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:6379\r\n$9\r\nconnected\r\n:5\r\n",
		"*2\r\n$7\r\nreplica\r\n$" + "3\r\nabc\r\n",
		"$48\r\n# Replication\r\nrole:slave\r\nmaster_host:h\r\nmaster_port:1\r\n\r\n",
		"$13\r\nrole:master\r\n\r\n",
		"*3\r\n$5\r\nslave\r\n$600\r\n" + strings.Repeat("h", 600) + "\r\n:1\r\n",
		"$" + itoa(int64(len(longInfo))) + "\r\n" + longInfo + "\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rd := resp.NewReader(bufio.NewReader(bytes.NewReader(data)))
		for i := 0; i < 16; i++ {
			v, _, err := rd.ReadValue()
			if err != nil {
				return
			}
			if v.Kind == resp.KindKeepalive {
				continue
			}
			checkPSYNCReply(t, v)
			if p, ok := parseRole(v); ok {
				checkRoleProbe(t, p)
			}
			if v.Kind == resp.KindBulkString {
				if p, ok := parseInfoRole(v.Text()); ok {
					checkRoleProbe(t, p)
				}
			}
		}
	})
}

func checkPSYNCReply(t *testing.T, v resp.Value) {
	hs, err := parsePSYNCReply(v)
	if err != nil {
		assert.LessOrEqual(t, len(err.Error()), maxReasonLen, "failure reason %q", clipText(err.Error()))
		if v.Kind != resp.KindError {
			assert.True(t, errors.Is(err, ErrProtocol), "a malformed reply is a protocol error: %v", err)
		}
		return
	}
	require.Equal(t, resp.KindSimpleString, v.Kind)
	assert.LessOrEqual(t, len(hs.line), maxReasonLen, "the reply becomes a transition reason")
	if hs.full {
		assert.Len(t, hs.replID, replIDLen)
		assert.GreaterOrEqual(t, hs.offset, int64(0))
		assert.True(t, strings.HasPrefix(hs.line, "+FULLRESYNC "+hs.replID+" "))
		return
	}
	assert.True(t, hs.replID == "" || len(hs.replID) == replIDLen, "replid %q", hs.replID)
	assert.True(t, strings.HasPrefix(hs.line, "+CONTINUE"))
}

func checkRoleProbe(t *testing.T, p roleProbe) {
	assert.Contains(t, []roleKind{rolePrimary, roleReplica}, p.kind)
	assert.LessOrEqual(t, len(p.master), maxReasonLen, "the master's address becomes a mismatch reason")
}
