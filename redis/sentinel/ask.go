package sentinel

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/replsm/replsm/redis/resp"
)

// replyLimits keep what a sentinel may send us small: addresses, event
// lines, short errors. Anything bigger is a bad reply, not a big buffer.
var replyLimits = resp.Limits{MaxBulkLen: 4 << 10, MaxArrayLen: 16, MaxLineLen: 4 << 10, MaxDepth: 2}

// dial connects to addr within timeout on clk, bounded by ctx too.
func dial(ctx context.Context, clk clock.Clock, addr string, timeout time.Duration) (net.Conn, error) {
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	t := clk.AfterFunc(timeout, cancel)
	defer t.Stop()
	var d net.Dialer
	c, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		if ctx.Err() == nil && dctx.Err() != nil {
			return nil, fmt.Errorf("dial sentinel %s: no connection in %s", addr, timeout)
		}
		return nil, fmt.Errorf("dial sentinel %s: %w", addr, err)
	}
	return c, nil
}

// AskMaster asks the sentinel at addr which node is the primary of name
// (SENTINEL GET-MASTER-ADDR-BY-NAME) and returns it as "host:port". The
// dial and the reply are bounded by timeout on clk. Errors: the network's;
// ErrUnknownMaster for a null reply; ErrBadReply for anything else.
func AskMaster(ctx context.Context, clk clock.Clock, addr, name string, timeout time.Duration) (string, error) {
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	t := clk.AfterFunc(timeout, func() { cancel(fmt.Errorf("sentinel %s: no answer in %s", addr, timeout)) })
	defer t.Stop()
	c, err := dial(actx, clk, addr, timeout)
	if err != nil {
		return "", causeOr(actx, err)
	}
	defer c.Close()
	stop := context.AfterFunc(actx, func() { _ = c.Close() })
	defer stop()
	if _, err := c.Write(resp.AppendCommandStrings(nil, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", name)); err != nil {
		return "", causeOr(actx, fmt.Errorf("sentinel %s: %w", addr, err))
	}
	v, _, err := resp.NewReaderLimits(bufio.NewReaderSize(c, 512), replyLimits).ReadValue()
	if err != nil {
		return "", causeOr(actx, fmt.Errorf("sentinel %s: %w", addr, err))
	}
	return masterAddr(v)
}

// masterAddr reads GET-MASTER-ADDR-BY-NAME's reply: [ip, port], or null.
func masterAddr(v resp.Value) (string, error) {
	switch {
	case v.Kind == resp.KindError:
		return "", fmt.Errorf("%w: %s", ErrBadReply, clip(v.Text()))
	case v.IsNull():
		return "", ErrUnknownMaster
	case v.Kind != resp.KindArray || len(v.Array) != 2:
		return "", fmt.Errorf("%w: GET-MASTER-ADDR-BY-NAME answered %s", ErrBadReply, clip(v.String()))
	}
	addr, err := hostPort(v.Array[0].Text(), v.Array[1].Text())
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadReply, err)
	}
	return addr, nil
}

// Resolve asks the sentinels in turn which node is the primary of name and
// returns the first answer, with the sentinel that gave it. When none
// answers it returns ErrNoAnswer wrapping what each said.
func Resolve(ctx context.Context, clk clock.Clock, sentinels []string, name string, timeout time.Duration) (addr, from string, err error) {
	var errs []error
	for _, s := range sentinels {
		a, err := AskMaster(ctx, clk, s, name, timeout)
		if err == nil {
			return a, s, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", s, err))
		if ctx.Err() != nil {
			break
		}
	}
	return "", "", fmt.Errorf("%w for %q: %w", ErrNoAnswer, name, errors.Join(errs...))
}

// hostPort joins a host and port a sentinel sent, checking the port.
func hostPort(host, port string) (string, error) {
	if host == "" || len(host) > 255 || strings.ContainsAny(host, " \r\n") {
		return "", fmt.Errorf("bad host %q", clip(host))
	}
	p := 0
	for _, ch := range port {
		if ch < '0' || ch > '9' || p > 65535 {
			return "", fmt.Errorf("bad port %q", clip(port))
		}
		p = p*10 + int(ch-'0')
	}
	if p < 1 || p > 65535 {
		return "", fmt.Errorf("bad port %q", clip(port))
	}
	return net.JoinHostPort(host, port), nil
}

func causeOr(ctx context.Context, err error) error {
	if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) {
		return c
	}
	return err
}

// clip bounds text from the network quoted in errors and logs.
func clip(s string) string {
	const max = 200
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
