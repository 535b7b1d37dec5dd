package keyspace

// DBStats is one database's line of INFO keyspace.
type DBStats struct {
	Keys    int
	Expires int   // keys with a TTL
	AvgTTL  int64 // mean remaining TTL in ms of a sample of those keys; 0 when none
}

// avgTTLSample bounds the work of DBStats under the read lock: Redis's own
// avg_ttl is an estimate from sampled keys too. Map iteration order is
// random, so the first keys visited are a fair sample.
const avgTTLSample = 1000

// Stats returns INFO keyspace's numbers for every database (expired keys
// not yet removed included, as Redis counts them).
func (k *Keyspace) Stats() [NumDBs]DBStats {
	now := k.clk.Now().UnixMilli()
	k.mu.RLock()
	defer k.mu.RUnlock()
	var out [NumDBs]DBStats
	for i, d := range k.dbs {
		out[i].Keys, out[i].Expires = len(d.keys), len(d.expires)
		var sum, n int64
		for _, when := range d.expires {
			if n == avgTTLSample {
				break
			}
			if ttl := when - now; ttl > 0 {
				sum += ttl
			}
			n++
		}
		if n > 0 {
			out[i].AvgTTL = sum / n
		}
	}
	return out
}
