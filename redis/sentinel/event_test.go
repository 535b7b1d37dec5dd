package sentinel

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseEvent(t *testing.T) {
	for _, tc := range []struct {
		ch, payload string
		want        Event
		bad         bool
	}{
		{ch: "+switch-master", payload: "m 10.0.0.1 6379 10.0.0.2 6380",
			want: Event{Kind: SwitchMaster, Master: "m", Old: "10.0.0.1:6379", New: "10.0.0.2:6380"}},
		{ch: "+try-failover", payload: "master m 10.0.0.1 6379",
			want: Event{Kind: TryFailover, Master: "m", Old: "10.0.0.1:6379"}},
		{ch: "-failover-abort-not-elected", payload: "master m 10.0.0.1 6379",
			want: Event{Kind: FailoverAbort, Master: "m", Old: "10.0.0.1:6379"}},
		{ch: "+switch-master", payload: "m ::1 6379 ::1 6380",
			want: Event{Kind: SwitchMaster, Master: "m", Old: "[::1]:6379", New: "[::1]:6380"}},
		{ch: "+switch-master", payload: "m 10.0.0.1 6379 10.0.0.2", bad: true},
		{ch: "+switch-master", payload: "m 10.0.0.1 0 10.0.0.2 6380", bad: true},
		{ch: "+switch-master", payload: "m 10.0.0.1 6379 10.0.0.2 99999", bad: true},
		{ch: "+try-failover", payload: "slave 10.0.0.2:6380 10.0.0.2 6380 @ m 10.0.0.1 6379", bad: true},
		{ch: "+sdown", payload: "master m 10.0.0.1 6379", bad: true},
	} {
		got, err := parseEvent("s:1", tc.ch, tc.payload)
		if tc.bad {
			assert.True(t, errors.Is(err, ErrBadReply), "%s %q: %v", tc.ch, tc.payload, err)
			continue
		}
		tc.want.Sentinel, tc.want.Channel, tc.want.Payload = "s:1", tc.ch, tc.payload
		assert.NoError(t, err)
		assert.Equal(t, tc.want, got)
	}
}
