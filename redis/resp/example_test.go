package resp_test

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/replsm/replsm/redis/resp"
)

// A replica reads its primary's stream and adds up the byte counts to track
// the replication offset.
func ExampleReader_ReadCommand() {
	stream := "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"
	r := resp.NewReader(bufio.NewReader(strings.NewReader(stream)))
	offset := int64(1000) // from +FULLRESYNC
	for {
		args, n, err := r.ReadCommand()
		if err != nil {
			break // io.EOF here
		}
		offset += n
		fmt.Printf("%q -> offset %d\n", args, offset)
	}
	// Output:
	// ["SELECT" "0"] -> offset 1023
	// ["SET" "k" "v"] -> offset 1050
}

// A primary builds its replication stream with AppendCommand; the length of
// what it appends is exactly the offset increment.
func ExampleAppendCommand() {
	var backlog []byte
	backlog = resp.AppendCommand(backlog, []byte("SELECT"), []byte("0"))
	backlog = resp.AppendCommand(backlog, []byte("DEL"), []byte("k"))
	fmt.Println(len(backlog))
	// Output: 43
}
