package resp

import (
	"errors"
	"fmt"
)

// ErrProtocol is wrapped by every error the Reader returns for bytes that are
// not valid RESP2 or that exceed its Limits. The wrapping error says what was
// wrong and quotes the start of the offending input. End of input is not a
// protocol error: it is reported as io.EOF (nothing of a new value had been
// read) or io.ErrUnexpectedEOF (the input stopped inside a value).
var ErrProtocol = errors.New("resp: protocol error")

// quoteLimit bounds how much of the offending input an error quotes.
const quoteLimit = 32

func protocolErrorf(prefix []byte, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if prefix != nil {
		q := prefix
		more := ""
		if len(q) > quoteLimit {
			q, more = q[:quoteLimit], "..."
		}
		msg = fmt.Sprintf("%s (input %q%s)", msg, q, more)
	}
	return fmt.Errorf("%w: %s", ErrProtocol, msg)
}
