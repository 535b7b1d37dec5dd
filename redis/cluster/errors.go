package cluster

import "errors"

var (
	// ErrUnreachable is returned by Discover when no seed answered.
	ErrUnreachable = errors.New("cluster: no seed node answered")
	// ErrInconsistent is returned by Discover when the seeds that answered
	// describe different maps (a topology change in flight); the caller
	// asks again later.
	ErrInconsistent = errors.New("cluster: seed nodes disagree about the cluster map")
	// ErrInvalidMap is returned by Map.Validate (and so by Discover) for a
	// map with a slot claimed by two masters, a slot no master owns, a
	// master without an endpoint or a bad slot range.
	ErrInvalidMap = errors.New("cluster: invalid cluster map")
	// ErrProtocol is returned for a CLUSTER SHARDS / CLUSTER SLOTS reply
	// that does not have the documented shape.
	ErrProtocol = errors.New("cluster: malformed reply")
	// ErrNotCluster is returned by Query for a node that is not in cluster
	// mode ("ERR This instance has cluster support disabled").
	ErrNotCluster = errors.New("cluster: node is not in cluster mode")
	// ErrInvalidConfig is returned by NewFollower for a configuration it
	// cannot run with.
	ErrInvalidConfig = errors.New("cluster: invalid follower configuration")
)
