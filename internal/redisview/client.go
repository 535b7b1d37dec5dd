package redisview

import (
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// ClientOptions returns go-redis options for addr and database db that work
// against a real redis-server and against a minimal Redis-compatible server:
//
//   - Protocol 2 (RESP2). go-redis still sends HELLO first; a server that
//     answers "-ERR unknown command" keeps the connection on RESP2.
//   - DisableIdentity: no CLIENT SETINFO on connect.
//   - Maintenance notifications disabled: no CLIENT MAINT_NOTIFICATIONS.
//   - No command retries (MaxRetries -1), so a test sees a fault at once
//     rather than a retried success.
//   - Short dial and I/O timeouts, and context deadlines honoured.
//
// A db other than 0 makes go-redis send SELECT db on every new connection.
func ClientOptions(addr string, db int) *redis.Options {
	return &redis.Options{
		Addr:                  addr,
		DB:                    db,
		Protocol:              2,
		DisableIdentity:       true,
		MaxRetries:            -1,
		DialTimeout:           2 * time.Second,
		ReadTimeout:           5 * time.Second,
		WriteTimeout:          5 * time.Second,
		ContextTimeoutEnabled: true,
		PoolSize:              8,
		MaintNotificationsConfig: &maintnotifications.Config{
			Mode: maintnotifications.ModeDisabled,
		},
	}
}

// NewClient returns a go-redis client for addr and database db built from
// [ClientOptions]. The caller closes it.
func NewClient(addr string, db int) *redis.Client {
	return redis.NewClient(ClientOptions(addr, db))
}
