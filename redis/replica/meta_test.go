package replica

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/replsm/replsm/redis/resp"
)

func TestParseRole(t *testing.T) {
	p, ok := parseRole(resp.Array(resp.BulkString("master"), resp.Integer(0), resp.Array()))
	assert.True(t, ok)
	assert.Equal(t, rolePrimary, p.kind)
	p, ok = parseRole(resp.Array(resp.BulkString("slave"), resp.BulkString("10.0.0.1"), resp.Integer(6379), resp.BulkString("connected"), resp.Integer(5)))
	assert.True(t, ok)
	assert.Equal(t, roleProbe{kind: roleReplica, master: "10.0.0.1:6379"}, p)
	for _, v := range []resp.Value{resp.Error("ERR unknown command 'ROLE'"), resp.Array(), resp.Array(resp.BulkString("sentinel"))} {
		_, ok = parseRole(v)
		assert.False(t, ok, "%v", v)
	}
	p, ok = parseInfoRole("# Replication\r\nrole:slave\r\nmaster_host:h\r\nmaster_port:1\r\n")
	assert.True(t, ok)
	assert.Equal(t, roleProbe{kind: roleReplica, master: "h:1"}, p)
	p, ok = parseInfoRole("role:master\r\n")
	assert.True(t, ok)
	assert.Equal(t, rolePrimary, p.kind)
	_, ok = parseInfoRole("nothing here")
	assert.False(t, ok)
}
