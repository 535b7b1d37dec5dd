package keyspace

import "errors"

// ErrUnknownCommand is returned by Exec, ExecAll and Apply for an empty
// command or one this keyspace does not implement. Exec and Apply also
// return the Redis-style "ERR unknown command" reply, so a server can send
// it as is; a replica applying a stream should treat it as a broken stream.
var ErrUnknownCommand = errors.New("keyspace: unknown command")

// ErrDBIndex is returned when a database index outside 0..NumDBs-1 is passed
// to Exec, ExecAll, Apply or Put.
var ErrDBIndex = errors.New("keyspace: database index out of range")

// ErrInvalidValue is returned by Put for a value it cannot store: an unknown
// type, an empty collection, duplicate set or sorted-set members, or a NaN
// score.
var ErrInvalidValue = errors.New("keyspace: invalid value")

// ErrKeyExists is returned by PutNew when the key is already present.
var ErrKeyExists = errors.New("keyspace: key exists")
