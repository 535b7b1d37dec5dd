package outbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/replsm/replsm/store"
)

// Sink receives milestones. Deliver returns nil only when the receiver has
// durably accepted the milestone; then it is acked (deleted from the store).
// Any error means "not delivered": it is retried later, so a receiver may
// see a milestone more than once and must dedupe by Milestone.Key.
type Sink interface {
	Deliver(ctx context.Context, m store.Milestone) error
}

// FuncSink adapts a function to Sink.
type FuncSink func(ctx context.Context, m store.Milestone) error

// Deliver calls f.
func (f FuncSink) Deliver(ctx context.Context, m store.Milestone) error { return f(ctx, m) }

// DefaultHTTPTimeout bounds one HTTPSink request when no Client is given.
const DefaultHTTPTimeout = 10 * time.Second

// defaultHTTPClient is shared by HTTPSinks without a Client. Its timeout is
// real time: it bounds a network call, not replication logic. It has its
// own transport so that closing its idle connections (Outbox.Stop) does
// not disturb other users of http.DefaultTransport.
var defaultHTTPClient = &http.Client{
	Timeout:   DefaultHTTPTimeout,
	Transport: http.DefaultTransport.(*http.Transport).Clone(),
}

// HTTPSink POSTs each milestone as JSON (the store.Milestone fields: seq,
// key, kind, slot, at, attrs) with the header "Idempotency-Key: <Key>".
// A 2xx answer acks it; any other status or a transport error (refused
// connection, timeout) is a failure with the reason in the error.
//
// A receiver that already has a milestone should answer 2xx again: an
// error status is retried forever and holds back every later milestone.
type HTTPSink struct {
	// URL receives the POSTs (http or https).
	URL string
	// Client sends them; nil means a shared client with DefaultHTTPTimeout.
	// Set Client.Timeout: a receiver that never answers otherwise blocks
	// delivery until the outbox is stopped.
	Client *http.Client
	// Header is added to every request (e.g. Authorization). Optional.
	Header http.Header
}

// NewHTTPSink returns an HTTPSink after checking rawURL; client may be nil.
func NewHTTPSink(rawURL string, client *http.Client) (*HTTPSink, error) {
	if _, err := parseSinkURL(rawURL); err != nil {
		return nil, err
	}
	return &HTTPSink{URL: rawURL, Client: client}, nil
}

// parseSinkURL checks a sink URL: http or https, a host name, a port (if
// any) in 1..65535. Its errors never quote the URL's credentials: a
// --notify-url usage error goes to a terminal and to logs.
func parseSinkURL(rawURL string) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error quotes the whole URL; keep only the reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("%w: sink URL %q: %v", ErrInvalidConfig, redactRawURL(rawURL), err)
	}
	// Not u.Redacted(): a user name can be a token too, "user:pw@host"
	// without a scheme parses as scheme "user" with the password in it,
	// and an '@' may hide in a fragment. Errors show nothing before the
	// last '@'.
	shown := redactRawURL(rawURL)
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%w: sink URL %q: scheme must be http or https", ErrInvalidConfig, shown)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("%w: sink URL %q has no host", ErrInvalidConfig, shown)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("%w: sink URL %q: port %q out of range", ErrInvalidConfig, shown, p)
		}
	}
	return u, nil
}

// redactRawURL hides what may be credentials in a URL for an error
// message: everything before the last '@'.
func redactRawURL(raw string) string {
	if at := strings.LastIndex(raw, "@"); at >= 0 {
		return "xxxxx" + raw[at:]
	}
	return raw
}

// StatusError is the error of a delivery answered with a non-2xx status.
// errors.Is(err, ErrHTTPStatus) is true for it.
type StatusError struct {
	URL        string // redacted (no password)
	StatusCode int
	Status     string
	Body       string // first bytes of the answer, for the log
}

// Error names the URL, the status and the start of the answer's body.
func (e *StatusError) Error() string {
	if e.Body == "" {
		return fmt.Sprintf("http sink: POST %s: %s", e.URL, e.Status)
	}
	return fmt.Sprintf("http sink: POST %s: %s: %q", e.URL, e.Status, e.Body)
}

// Is makes errors.Is(err, ErrHTTPStatus) true.
func (e *StatusError) Is(target error) bool { return target == ErrHTTPStatus }

// Deliver implements Sink.
func (s *HTTPSink) Deliver(ctx context.Context, m store.Milestone) error {
	u, err := parseSinkURL(s.URL)
	if err != nil {
		return err
	}
	body, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("http sink: encode milestone %d: %w", m.Seq, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("http sink: %w", err)
	}
	for k, vs := range s.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", m.Key)
	client := s.Client
	if client == nil {
		client = defaultHTTPClient
	}
	resp, err := client.Do(req)
	if err != nil {
		// *url.Error already names the method and URL (redacted).
		return fmt.Errorf("http sink: %w", err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	// Drain a little more so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	return &StatusError{URL: u.Redacted(), StatusCode: resp.StatusCode, Status: resp.Status, Body: string(bytes.TrimSpace(snippet))}
}

// CloseIdleConnections closes the client's idle keep-alive connections
// (and so their goroutines). Outbox.Stop calls it.
func (s *HTTPSink) CloseIdleConnections() {
	client := s.Client
	if client == nil {
		client = defaultHTTPClient
	}
	client.CloseIdleConnections()
}

// String names the sink in logs (password redacted).
func (s *HTTPSink) String() string {
	if u, err := url.Parse(s.URL); err == nil {
		return "http POST " + u.Redacted()
	}
	return "http POST (invalid URL)"
}
