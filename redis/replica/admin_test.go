package replica

import (
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/slot"
)

// TestInteropSentinelCommands checks what Redis Sentinel needs from a
// replica: a PUBLISH on the real primary reaches a SUBSCRIBE on this
// replica through the replication stream (Sentinel's hellos), and its
// reconfiguration transaction is queued and executed as Redis does.
func TestInteropSentinelCommands(t *testing.T) {
	ctx := testCtx(t, 120*time.Second)
	a := startPrimary(t, "primary")
	ac := a.Client()
	r := startReplica(t, testConfig(t, map[slot.ID]string{0: a.Addr()}))
	require.NoError(t, r.Instance().WaitSynced(ctx))
	rc := unionClient(t, r)

	sub := rc.Subscribe(ctx, "__sentinel__:hello")
	t.Cleanup(func() { _ = sub.Close() })
	_, err := sub.Receive(ctx) // the subscribe confirmation
	require.NoError(t, err)
	hello := "127.0.0.1,26379,0123456789012345678901234567890123456789,0,mymaster,127.0.0.1," + strconv.Itoa(a.Port()) + ",0"
	// Until the subscription is registered a publish may find nobody:
	// publish until one arrives.
	got := make(chan *redis.Message, 1)
	go func() {
		if m, err := sub.ReceiveMessage(ctx); err == nil {
			got <- m
		}
	}()
	require.Eventually(t, func() bool {
		require.NoError(t, ac.Publish(ctx, "__sentinel__:hello", hello).Err())
		select {
		case m := <-got:
			assert.Equal(t, "__sentinel__:hello", m.Channel)
			assert.Equal(t, hello, m.Payload)
			return true
		case <-time.After(100 * time.Millisecond):
			return false
		}
	}, 30*time.Second, 10*time.Millisecond)
	// A PUBLISH on the replica reaches its own subscribers.
	assert.Equal(t, int64(1), rc.Publish(ctx, "__sentinel__:hello", "x").Val())

	// Sentinel's reconfiguration, on one connection.
	conn := rc.Conn()
	t.Cleanup(func() { _ = conn.Close() })
	require.NoError(t, conn.ClientSetName(ctx, "sentinel-01234567-cmd").Err())
	cmds, err := conn.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Do(ctx, "SLAVEOF", "127.0.0.1", strconv.Itoa(a.Port())) // the primary already followed: +OK
		p.Do(ctx, "CONFIG", "REWRITE")
		p.Do(ctx, "CLIENT", "KILL", "TYPE", "normal")
		p.Do(ctx, "CLIENT", "KILL", "TYPE", "pubsub")
		return nil
	})
	require.NoError(t, err)
	require.Len(t, cmds, 4)
	assert.Equal(t, "OK", cmds[0].(*redis.Cmd).Val())
	assert.Equal(t, "OK", cmds[1].(*redis.Cmd).Val())
	assert.Equal(t, int64(1), cmds[3].(*redis.Cmd).Val(), "the subscriber was killed")
	assert.Equal(t, "sentinel-01234567-cmd", conn.ClientGetName(ctx).Val(), "the caller survives its own CLIENT KILL")
	waitState(t, r, 0, slot.Connected, 30*time.Second)
}
