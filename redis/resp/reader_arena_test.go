package resp

import (
	"bufio"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Small bulk strings of one command share an arena, but never capacity:
// appending to one argument does not overwrite the next, and two commands
// never share memory.
func TestArenaArgumentsAreIndependent(t *testing.T) {
	in := "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
	r := NewReader(bufio.NewReader(strings.NewReader(in)))
	v, _, err := r.ReadValue()
	require.NoError(t, err)
	args := v.Array
	require.Len(t, args, 3)
	assert.Equal(t, len(args[1].Str), cap(args[1].Str))
	_ = append(args[1].Str, 'X', 'X', 'X')
	assert.Equal(t, "value", string(args[2].Str))
	cmd, _, err := r.ReadCommand()
	require.NoError(t, err)
	assert.Equal(t, [][]byte{[]byte("GET"), []byte("k")}, cmd)
	assert.Equal(t, "SET", string(args[0].Str), "the first command's bytes are untouched")
}
