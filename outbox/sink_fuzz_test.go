package outbox

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/store"
)

// captureTransport answers every request 204 without a network, noting it.
type captureTransport struct{ req *http.Request }

func (c *captureTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.req = r
	return &http.Response{StatusCode: http.StatusNoContent, Status: "204 No Content", Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
}

// FuzzHTTPSinkConfig: the webhook's configuration (--notify-url) and the
// milestone key that becomes its Idempotency-Key header, from hostile
// bytes. A URL is refused with ErrInvalidConfig and an error that does not
// quote its credentials, or accepted and then usable: every milestone the
// store accepts is POSTed to that host (through a fake transport: no
// network) and acked. Never a panic.
func FuzzHTTPSinkConfig(f *testing.F) {
	for _, s := range [][2]string{
		{"http://127.0.0.1:8080/hook", "slot/0/full_sync_completed/session/1"},
		{"https://user:hunter2hunter2@example.com/m", "k"},
		{"ftp://user:hunter2hunter2@example.com/m", "k"},
		{"ftp://tokentokentoken@example.com/m", "k"},
		{"http://user:hunter2hunter2@exa mple.com/m", "k"},
		{"http://user:hunter2hunter2@[::1", "k"},
		{"http://:80/", "k"},
		{"http://h:99999/", "k"},
		{"http://h:0/", "k"},
		{"HTTP://H/", "ünï"},
		{"http://[::1]:9/x?y=z#f", "a b"},
		{"http://%zz@h/", "k"},
		{"", ""},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, raw, key string) {
		if at := strings.LastIndex(raw, "@"); at >= 0 {
			// Whatever precedes the last '@' may be credentials: plant a
			// secret there and look for it in the refusal.
			const secret = "S3CR3Tpassword"
			planted := raw[:at] + secret + raw[at:]
			if _, err := NewHTTPSink(planted, nil); err != nil {
				assert.NotContains(t, err.Error(), secret, "the error quotes the URL's credentials")
			}
		}
		tr := &captureTransport{}
		sink, err := NewHTTPSink(raw, &http.Client{Transport: tr})
		if err != nil {
			assert.ErrorIs(t, err, ErrInvalidConfig)
			return
		}
		u, err := url.Parse(raw)
		require.NoError(t, err)
		assert.Contains(t, []string{"http", "https"}, strings.ToLower(u.Scheme))
		assert.NotEmpty(t, u.Hostname(), "accepted a URL without a host name")
		if p := u.Port(); p != "" {
			n, err := strconv.Atoi(p)
			assert.True(t, err == nil && n >= 1 && n <= 65535, "accepted port %q", p)
		}

		m := store.Milestone{Key: key, Kind: "x"}
		stored, err := store.NewMemory().AppendMilestone(m)
		if err != nil {
			return // the store refuses it before it could be delivered
		}
		err = sink.Deliver(context.Background(), stored)
		require.NoError(t, err, "an accepted URL must be deliverable")
		require.NotNil(t, tr.req)
		assert.Equal(t, u.Hostname(), tr.req.URL.Hostname())
		assert.Equal(t, key, tr.req.Header.Get("Idempotency-Key"))
		assert.Equal(t, http.MethodPost, tr.req.Method)
	})
}
