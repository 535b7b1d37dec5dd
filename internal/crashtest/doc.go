// Package crashtest holds the crash tests of the Redis replica's durable
// state: a child process (this package's test binary, re-executed in a
// helper mode) runs a replica with a state dir and a milestone sink against
// a real redis-server primary, is SIGKILLed at an injected point
// (internal/failpoint), and is started again on the same state dir. The
// tests then check that every milestone reached the receiver at least once
// and, deduped by its idempotency key, exactly once; that the cursor in the
// store never pointed past the data in the snapshot it names; and that the
// restarted replica resumed with +CONTINUE and ended with the primary's
// data.
//
// The package has no non-test code besides this comment.
package crashtest
