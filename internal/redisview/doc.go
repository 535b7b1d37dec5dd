// Package redisview reads any Redis-compatible server from the outside, the
// same way for every server: a go-redis client configured to work against
// both a real redis-server and replsm's own RESP servers, and a digest of
// every key, type, value and TTL bucket computed only with SCAN, TYPE and
// plain reads. Tests and the demo compare a primary with its replica by
// comparing their digests.
package redisview

import "errors"

// ErrUnsupportedType is returned by Digest when a key has a type it cannot
// read with the basic read commands (for example a stream or a module
// type). Such a key is never hashed silently.
var ErrUnsupportedType = errors.New("key type not supported by the digest")
