package redistest

import "github.com/replsm/replsm/internal/redisview"

// The client and the digest live in internal/redisview, which the demo uses
// too; these names keep the test helpers in one place for tests.

// TTLMode is redisview.TTLMode.
type TTLMode = redisview.TTLMode

// TTL modes.
const (
	TTLDeadline  = redisview.TTLDeadline
	TTLRemaining = redisview.TTLRemaining
	TTLPresence  = redisview.TTLPresence
)

// DefaultTTLBucket is redisview.DefaultTTLBucket.
const DefaultTTLBucket = redisview.DefaultTTLBucket

// DigestOptions, DBSummary and DigestReport are redisview's.
type (
	DigestOptions = redisview.DigestOptions
	DBSummary     = redisview.DBSummary
	DigestReport  = redisview.DigestReport
)

// Digest, DigestWithOptions, ClientOptions and NewClient are redisview's.
var (
	Digest            = redisview.Digest
	Compare           = redisview.Compare
	DigestWithOptions = redisview.DigestWithOptions
	ClientOptions     = redisview.ClientOptions
	NewClient         = redisview.NewClient
)
