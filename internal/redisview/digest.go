package redisview

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// TTLMode says how [DigestWithOptions] folds a key's time to live into the
// digest. A key without a TTL always hashes as "none".
type TTLMode int

const (
	// TTLDeadline (the default) hashes the key's absolute expiry time
	// (PEXPIRETIME, Redis 7.0), floored to a multiple of the bucket. A
	// primary and its replica hold the same absolute expiry (Redis
	// replicates EXPIRE as PEXPIREAT and SET EX as SET PXAT), so two digests
	// read at any time agree exactly: no estimate from a round trip, which
	// on a busy machine could move a deadline across a bucket edge.
	TTLDeadline TTLMode = iota

	// TTLRemaining hashes ceil(PTTL / bucket), the remaining time in whole
	// buckets: -1 (no TTL) versus 1, 2, 3, ... For servers filled
	// independently at about the same time. Two reads d apart disagree on a
	// key with probability about d / bucket.
	TTLRemaining

	// TTLPresence hashes only whether the key has a TTL. Never flaky, and
	// blind to the TTL's value.
	TTLPresence
)

// DefaultTTLBucket is the TTL bucket width [Digest] uses: 10 seconds.
const DefaultTTLBucket = 10 * time.Second

// digestBatch is how many keys one pipelined round trip reads.
const digestBatch = 256

// scanCount is the COUNT hint given to SCAN.
const scanCount = 1000

// maxScanCalls bounds the SCAN loop of one database.
const maxScanCalls = 1 << 20

// DigestOptions configure [DigestWithOptions].
type DigestOptions struct {
	// TTL selects how TTLs enter the digest; the zero value is TTLDeadline.
	TTL TTLMode
	// Bucket is the TTL bucket width; 0 means DefaultTTLBucket. Ignored by
	// TTLPresence.
	Bucket time.Duration
}

// DBSummary counts the keys of one database seen by a digest.
type DBSummary struct {
	Keys    int // all keys hashed
	Strings int // keys of type string
	Lists   int // keys of type list
	Hashes  int // keys of type hash
	Sets    int // keys of type set
	ZSets   int // keys of type zset
	Streams int // keys of type stream
	WithTTL int // keys that have a TTL
}

// String renders the summary as "N keys (string a, list b, hash c, set d,
// zset e, stream f; g with ttl)".
func (s DBSummary) String() string {
	return fmt.Sprintf("%d keys (string %d, list %d, hash %d, set %d, zset %d, stream %d; %d with ttl)",
		s.Keys, s.Strings, s.Lists, s.Hashes, s.Sets, s.ZSets, s.Streams, s.WithTTL)
}

// DigestReport is the result of [Digest]: the digest itself, what it covered,
// and per-key fingerprints for [DigestReport.Diff].
type DigestReport struct {
	// Digest is the lowercase hex SHA-256 over every requested database in
	// ascending order, and in each over every key in byte order with its
	// type, TTL bucket and value. Equal content gives equal digests.
	Digest string
	// DBs holds one summary per requested database, empty ones included.
	DBs map[int]DBSummary
	// Options are the options the digest was computed with.
	Options DigestOptions

	// entries[db][key] describes one key: type, TTL token, value hash.
	entries map[int]map[string]string
}

// TotalKeys returns the number of keys over all databases.
func (r *DigestReport) TotalKeys() int {
	n := 0
	for _, s := range r.DBs {
		n += s.Keys
	}
	return n
}

// String renders the digest's first 16 hex digits and each database's
// summary, for failure messages.
func (r *DigestReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "digest %.16s", r.Digest)
	for _, db := range slices.Sorted(maps.Keys(r.DBs)) {
		fmt.Fprintf(&b, "; db%d: %v", db, r.DBs[db])
	}
	return b.String()
}

// Diff lists up to limit keys (limit <= 0: 20) whose content differs between
// r and other, or that only one of them holds, sorted by database and key,
// for failure messages. It returns nil when the digests are equal.
func (r *DigestReport) Diff(other *DigestReport, limit int) []string {
	if r.Digest == other.Digest {
		return nil
	}
	if limit <= 0 {
		limit = 20
	}
	var out []string
	dbs := slices.Sorted(maps.Keys(r.entries))
	for db := range other.entries {
		if _, ok := r.entries[db]; !ok {
			dbs = append(dbs, db)
		}
	}
	slices.Sort(dbs)
	for _, db := range slices.Compact(dbs) {
		a, b := r.entries[db], other.entries[db]
		keys := slices.Collect(maps.Keys(a))
		for k := range b {
			if _, ok := a[k]; !ok {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			ea, okA := a[k]
			eb, okB := b[k]
			switch {
			case !okB:
				out = append(out, fmt.Sprintf("db%d %q only in first: %s", db, k, ea))
			case !okA:
				out = append(out, fmt.Sprintf("db%d %q only in second: %s", db, k, eb))
			case ea != eb:
				out = append(out, fmt.Sprintf("db%d %q differs: %s vs %s", db, k, ea, eb))
			default:
				continue
			}
			if len(out) == limit {
				return append(out, "...")
			}
		}
	}
	return out
}

// Digest reads every key of the databases dbs through c and returns a
// deterministic digest of their keys, types, values and TTLs, with the
// default options (TTLDeadline, 10-second buckets). See [DigestWithOptions].
func Digest(ctx context.Context, c *redis.Client, dbs []int) (*DigestReport, error) {
	return DigestWithOptions(ctx, c, dbs, DigestOptions{})
}

// DigestWithOptions is [Digest] with a chosen TTL treatment.
//
// It issues only commands any Redis-compatible server answers: SELECT, SCAN
// (cursor and COUNT), TYPE, GET, LRANGE 0 -1, HGETALL, SMEMBERS, ZRANGE 0 -1
// WITHSCORES and PEXPIRETIME (PTTL under TTLRemaining), pipelined on one dedicated connection that is
// discarded afterwards (so its SELECT never leaks into c's pool). Hash fields,
// set members and sorted-set entries (by score, then member) are sorted
// before hashing; list order is kept. A key that disappears between SCAN and
// its read (expired or deleted) is left out. A key of any other type fails
// with [ErrUnsupportedType]. The data should be quiescent while it is read.
func DigestWithOptions(ctx context.Context, c *redis.Client, dbs []int, opts DigestOptions) (*DigestReport, error) {
	if opts.Bucket <= 0 {
		opts.Bucket = DefaultTTLBucket
	}
	dbs = slices.Clone(dbs)
	slices.Sort(dbs)
	dbs = slices.Compact(dbs)

	conn := c.EphemeralConn()
	defer conn.Close()

	rep := &DigestReport{
		DBs:     make(map[int]DBSummary, len(dbs)),
		Options: opts,
		entries: make(map[int]map[string]string, len(dbs)),
	}
	total := sha256.New()
	for _, db := range dbs {
		if err := conn.Select(ctx, db).Err(); err != nil {
			return nil, fmt.Errorf("digest: SELECT %d: %w", db, err)
		}
		keys, err := scanAll(ctx, conn)
		if err != nil {
			return nil, fmt.Errorf("digest: db%d: %w", db, err)
		}
		entries := make(map[string]string, len(keys))
		sum := DBSummary{}
		perKey := make(map[string][]byte, len(keys))
		for start := 0; start < len(keys); start += digestBatch {
			batch := keys[start:min(start+digestBatch, len(keys))]
			if err := digestBatchKeys(ctx, conn, batch, opts, &sum, entries, perKey); err != nil {
				return nil, fmt.Errorf("digest: db%d: %w", db, err)
			}
		}
		putString(total, "db")
		putInt(total, int64(db))
		putInt(total, int64(len(perKey)))
		for _, k := range slices.Sorted(maps.Keys(perKey)) {
			putString(total, k)
			total.Write(perKey[k])
		}
		rep.DBs[db] = sum
		rep.entries[db] = entries
	}
	rep.Digest = hex.EncodeToString(total.Sum(nil))
	return rep, nil
}

// scanAll returns every key of the selected database, sorted and deduplicated.
func scanAll(ctx context.Context, conn *redis.Conn) ([]string, error) {
	seen := make(map[string]struct{})
	var cursor uint64
	for calls := 0; ; calls++ {
		if calls == maxScanCalls {
			return nil, fmt.Errorf("SCAN did not finish after %d calls", calls)
		}
		keys, next, err := conn.Scan(ctx, cursor, "", scanCount).Result()
		if err != nil {
			return nil, fmt.Errorf("SCAN %d: %w", cursor, err)
		}
		for _, k := range keys {
			seen[k] = struct{}{}
		}
		if next == 0 {
			break
		}
		cursor = next
	}
	return slices.Sorted(maps.Keys(seen)), nil
}

// digestBatchKeys reads the types, then the values and TTLs, of keys in two
// pipelined round trips, and records each key's hash in perKey.
func digestBatchKeys(ctx context.Context, conn *redis.Conn, keys []string, opts DigestOptions,
	sum *DBSummary, entries map[string]string, perKey map[string][]byte) error {
	typeCmds := make([]*redis.StatusCmd, len(keys))
	if _, err := conn.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			typeCmds[i] = p.Type(ctx, k)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("TYPE: %w", err)
	}

	type read struct {
		key, typ string
		value    redis.Cmder
		pttl     *redis.Cmd
	}
	reads := make([]read, 0, len(keys))
	for i, k := range keys {
		typ := typeCmds[i].Val()
		switch typ {
		case "none":
			continue // gone since SCAN
		case "string", "list", "hash", "set", "zset", "stream":
			reads = append(reads, read{key: k, typ: typ})
		default:
			return fmt.Errorf("%w: key %q has type %q", ErrUnsupportedType, k, typ)
		}
	}
	if len(reads) == 0 {
		return nil
	}
	before := time.Now()
	_, err := conn.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range reads {
			r := &reads[i]
			switch r.typ {
			case "string":
				r.value = p.Get(ctx, r.key)
			case "list":
				r.value = p.LRange(ctx, r.key, 0, -1)
			case "hash":
				r.value = p.HGetAll(ctx, r.key)
			case "set":
				r.value = p.SMembers(ctx, r.key)
			case "zset":
				r.value = p.ZRangeWithScores(ctx, r.key, 0, -1)
			case "stream":
				r.value = p.Do(ctx, "xinfo", "stream", r.key, "full", "count", "0")
			}
			if opts.TTL == TTLDeadline {
				r.pttl = p.Do(ctx, "pexpiretime", r.key)
			} else {
				r.pttl = p.Do(ctx, "pttl", r.key)
			}
		}
		return nil
	})
	after := time.Now()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("read values: %w", err)
	}
	nowMs := before.Add(after.Sub(before) / 2).UnixMilli()

	for _, r := range reads {
		pttl, err := r.pttl.Int64()
		if err != nil {
			return fmt.Errorf("TTL of %q: %w", r.key, err)
		}
		if pttl == -2 {
			continue // expired or deleted since TYPE
		}
		h := sha256.New()
		putString(h, r.typ)
		ttl := ttlToken(opts, pttl, nowMs)
		putString(h, ttl)
		gone, err := hashValue(h, r.typ, r.value)
		if err != nil {
			return fmt.Errorf("read %s %q: %w", r.typ, r.key, err)
		}
		if gone {
			continue
		}
		digest := h.Sum(nil)
		perKey[r.key] = digest
		entries[r.key] = fmt.Sprintf("%s ttl=%s value=%x", r.typ, ttl, digest[:6])
		sum.Keys++
		if pttl >= 0 {
			sum.WithTTL++
		}
		switch r.typ {
		case "string":
			sum.Strings++
		case "list":
			sum.Lists++
		case "hash":
			sum.Hashes++
		case "set":
			sum.Sets++
		case "zset":
			sum.ZSets++
		case "stream":
			sum.Streams++
		}
	}
	return nil
}

// hashValue writes a canonical encoding of one value into h. gone reports a
// key that vanished before its value was read (a nil reply or an empty
// aggregate, which Redis never stores).
func hashValue(h hash.Hash, typ string, cmd redis.Cmder) (gone bool, err error) {
	switch typ {
	case "string":
		v, err := cmd.(*redis.StringCmd).Result()
		if errors.Is(err, redis.Nil) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		putString(h, v)
	case "list":
		v, err := cmd.(*redis.StringSliceCmd).Result()
		if err != nil {
			return false, err
		}
		putStrings(h, v)
		return len(v) == 0, nil
	case "set":
		v, err := cmd.(*redis.StringSliceCmd).Result()
		if err != nil {
			return false, err
		}
		slices.Sort(v)
		putStrings(h, v)
		return len(v) == 0, nil
	case "hash":
		v, err := cmd.(*redis.MapStringStringCmd).Result()
		if err != nil {
			return false, err
		}
		putInt(h, int64(len(v)))
		for _, f := range slices.Sorted(maps.Keys(v)) {
			putString(h, f)
			putString(h, v[f])
		}
		return len(v) == 0, nil
	case "zset":
		v, err := cmd.(*redis.ZSliceCmd).Result()
		if err != nil {
			return false, err
		}
		entries := make([][2]string, len(v))
		scores := make(map[string]float64, len(v))
		for i, z := range v {
			m := fmt.Sprint(z.Member)
			entries[i] = [2]string{m, strconv.FormatFloat(z.Score, 'g', -1, 64)}
			scores[m] = z.Score
		}
		slices.SortFunc(entries, func(a, b [2]string) int {
			if c := cmp.Compare(scores[a[0]], scores[b[0]]); c != 0 {
				return c
			}
			return strings.Compare(a[0], b[0])
		})
		putInt(h, int64(len(entries)))
		for _, e := range entries {
			putString(h, e[0])
			putString(h, e[1])
		}
		return len(v) == 0, nil
	case "stream":
		v, err := cmd.(*redis.Cmd).Result()
		if errors.Is(err, redis.Nil) || (err != nil && strings.Contains(err.Error(), "no such key")) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		hashStreamInfo(h, v)
	}
	return false, nil
}

// streamVolatile names the XINFO STREAM FULL fields left out of a digest:
// Redis's memory layout (radix-tree sizes) and what each server stamps from
// its own clock (consumers' seen and active times). Entries, IDs, counters,
// groups, lags and pending entries with their delivery times and counts are
// hashed: a replica receives those from its primary.
var streamVolatile = map[string]bool{
	"radix-tree-keys": true, "radix-tree-nodes": true, "seen-time": true, "active-time": true,
}

// hashStreamInfo hashes an XINFO STREAM FULL reply canonically. A RESP2
// reply nests flat arrays of name/value pairs; a RESP3 one nests maps. Both
// hash the same.
func hashStreamInfo(h hash.Hash, v any) {
	switch x := v.(type) {
	case map[any]any:
		keys := make([]string, 0, len(x))
		vals := make(map[string]any, len(x))
		for k, val := range x {
			ks := fmt.Sprint(k)
			keys = append(keys, ks)
			vals[ks] = val
		}
		hashStreamPairs(h, keys, vals)
	case []any:
		if keys, vals, ok := asPairs(x); ok {
			hashStreamPairs(h, keys, vals)
			return
		}
		putString(h, "[")
		putInt(h, int64(len(x)))
		for _, e := range x {
			hashStreamInfo(h, e)
		}
	case nil:
		putString(h, "nil")
	case int64:
		putString(h, "i"+strconv.FormatInt(x, 10))
	default:
		putString(h, "s"+fmt.Sprint(x))
	}
}

func hashStreamPairs(h hash.Hash, keys []string, vals map[string]any) {
	slices.Sort(keys)
	putString(h, "{")
	for _, k := range keys {
		if streamVolatile[k] {
			continue
		}
		putString(h, k)
		hashStreamInfo(h, vals[k])
	}
}

// streamFields are the names XINFO STREAM FULL uses at the start of its
// maps: a flat array that begins with one of them is a map.
var streamFields = map[string]bool{"length": true, "name": true}

// asPairs reads a RESP2 flat array as a map when it is one.
func asPairs(x []any) ([]string, map[string]any, bool) {
	if len(x) < 2 || len(x)%2 != 0 {
		return nil, nil, false
	}
	first, ok := x[0].(string)
	if !ok || !streamFields[first] {
		return nil, nil, false
	}
	keys := make([]string, 0, len(x)/2)
	vals := make(map[string]any, len(x)/2)
	for i := 0; i < len(x); i += 2 {
		k, ok := x[i].(string)
		if !ok {
			return nil, nil, false
		}
		keys = append(keys, k)
		vals[k] = x[i+1]
	}
	return keys, vals, true
}

// ttlToken renders a PTTL reply (milliseconds; -1 for no TTL) read at local
// time nowMs as the token hashed under opts; under TTLDeadline the reply is
// PEXPIRETIME's (unix milliseconds) and nowMs is not used.
func ttlToken(opts DigestOptions, pttl, nowMs int64) string {
	if pttl < 0 {
		return "none"
	}
	bucket := opts.Bucket
	if bucket <= 0 {
		bucket = DefaultTTLBucket
	}
	width := bucket.Milliseconds()
	if width <= 0 {
		width = 1
	}
	switch opts.TTL {
	case TTLPresence:
		return "ttl"
	case TTLRemaining:
		return "r" + strconv.FormatInt((pttl+width-1)/width, 10)
	default: // TTLDeadline
		return "d" + strconv.FormatInt(pttl/width, 10)
	}
}

func putInt(h hash.Hash, v int64) {
	var b [binary.MaxVarintLen64]byte
	h.Write(b[:binary.PutVarint(b[:], v)])
}

func putString(h hash.Hash, s string) {
	putInt(h, int64(len(s)))
	h.Write([]byte(s))
}

func putStrings(h hash.Hash, v []string) {
	putInt(h, int64(len(v)))
	for _, s := range v {
		putString(h, s)
	}
}

// Compare digests a and b over dbs, and reads both again when they differ,
// up to three times: with quiescent data a real difference shows on every
// read, while a TTL deadline read a millisecond apart on the two sides can
// land in two buckets once. It returns the last pair of reports and whether
// they were equal.
func Compare(ctx context.Context, a, b *redis.Client, dbs []int) (equal bool, ra, rb *DigestReport, err error) {
	for attempt := 0; attempt < 3; attempt++ {
		if ra, err = Digest(ctx, a, dbs); err != nil {
			return false, nil, nil, fmt.Errorf("first server: %w", err)
		}
		if rb, err = Digest(ctx, b, dbs); err != nil {
			return false, nil, nil, fmt.Errorf("second server: %w", err)
		}
		if ra.Digest == rb.Digest {
			return true, ra, rb, nil
		}
	}
	return false, ra, rb, nil
}
