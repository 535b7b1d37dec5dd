package redistest

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// FillSecondDB is the second database [FillAllTypes] writes to.
const FillSecondDB = 3

// FillDBs returns the databases [FillAllTypes] writes to: 0 and
// [FillSecondDB]. Pass it to [Digest].
func FillDBs() []int { return []int{0, FillSecondDB} }

// fillChunk is how many rounds one pipelined round trip carries.
const fillChunk = 32

// FillAllTypes writes a deterministic mix of data through c: for each round
// i in [0, n) it writes into database 0
//
//   - strings with SET (including binary values), some with SET ... EX
//     (600 to 660 s, multiples of 10 s), and DEL of an earlier one every 7th
//     round;
//   - lists with RPUSH, LPUSH and LPOP; hashes with HSET and HDEL; sets with
//     SADD and SREM; sorted sets with ZADD and ZINCRBY (fractional and
//     negative scores);
//   - counters with INCR and INCRBY, strings grown with APPEND;
//   - keys given a TTL by EXPIRE (1200 s), some of them PERSISTed again;
//
// and, every other round, strings (some with EX 900), a list, a hash, a set
// and a sorted set into database [FillSecondDB]. Every key starts with
// prefix + ":". The same (prefix, n) always produces the same data; all TTLs
// are long enough not to expire during a test. Commands go in order over one
// dedicated connection (SELECT 0, then SELECT FillSecondDB, per chunk), which
// is discarded afterwards.
func FillAllTypes(ctx context.Context, c *redis.Client, prefix string, n int) error {
	if prefix == "" || n < 0 {
		return fmt.Errorf("%w: FillAllTypes(prefix %q, n %d)", ErrInvalidArgument, prefix, n)
	}
	conn := c.EphemeralConn()
	defer conn.Close()
	k := func(format string, args ...any) string { return prefix + ":" + fmt.Sprintf(format, args...) }

	for start := 0; start < n; start += fillChunk {
		end := min(start+fillChunk, n)
		cmds, err := conn.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.Select(ctx, 0)
			for i := start; i < end; i++ {
				p.Set(ctx, k("s:%d", i), fmt.Sprintf("value-%d", i), 0)
				if i%3 == 0 {
					p.Set(ctx, k("sx:%d", i), fmt.Sprintf("ttl-%d", i), time.Duration(600+10*(i%7))*time.Second)
				}
				if i%7 == 0 && i > 0 {
					p.Del(ctx, k("s:%d", i-1))
				}
				p.Set(ctx, k("bin:%d", i%3), fmt.Sprintf("\x00\xff\r\n%d", i), 0)

				p.RPush(ctx, k("l:%d", i%10), fmt.Sprintf("a%d", i))
				if i%4 == 0 {
					p.LPush(ctx, k("l:%d", i%10), fmt.Sprintf("b%d", i), fmt.Sprintf("c%d", i))
				}
				if i%9 == 0 {
					p.LPop(ctx, k("l:%d", i%10))
				}

				p.HSet(ctx, k("h:%d", i%10), fmt.Sprintf("f%d", i), fmt.Sprintf("v%d", i))
				if i%5 == 0 && i >= 10 {
					p.HDel(ctx, k("h:%d", i%10), fmt.Sprintf("f%d", i-10))
				}

				p.SAdd(ctx, k("set:%d", i%10), fmt.Sprintf("m%d", i), fmt.Sprintf("m%d", i%3))
				if i%6 == 0 && i >= 10 {
					p.SRem(ctx, k("set:%d", i%10), fmt.Sprintf("m%d", i-10))
				}

				p.ZAdd(ctx, k("z:%d", i%10), redis.Z{Score: float64(i)*1.5 - float64(i%4), Member: fmt.Sprintf("z%d", i)})
				if i%8 == 0 {
					p.ZIncrBy(ctx, k("z:%d", i%10), -0.25, fmt.Sprintf("z%d", i))
				}

				p.Incr(ctx, k("ctr:%d", i%5))
				p.IncrBy(ctx, k("ctr:%d", i%5), int64(i))
				p.Append(ctx, k("app:%d", i%5), fmt.Sprintf("x%d;", i))

				p.Set(ctx, k("e:%d", i), "e", 0)
				if i%2 == 0 {
					p.Expire(ctx, k("e:%d", i), 1200*time.Second)
				}
				if i%10 == 0 {
					p.Persist(ctx, k("e:%d", i))
				}
			}
			p.Select(ctx, FillSecondDB)
			for i := start; i < end; i++ {
				if i%2 != 0 {
					continue
				}
				p.Set(ctx, k("d3:s:%d", i), fmt.Sprintf("db3-%d", i), 0)
				if i%4 == 0 {
					p.Set(ctx, k("d3:sx:%d", i), "t", 900*time.Second)
				}
				p.RPush(ctx, k("d3:l"), fmt.Sprintf("%d", i))
				p.HSet(ctx, k("d3:h"), fmt.Sprintf("f%d", i), i)
				p.SAdd(ctx, k("d3:set"), i%17)
				p.ZAdd(ctx, k("d3:z"), redis.Z{Score: float64(-i), Member: fmt.Sprintf("m%d", i)})
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("FillAllTypes rounds %d..%d: %w", start, end-1, err)
		}
		for _, cmd := range cmds {
			if err := cmd.Err(); err != nil && err != redis.Nil {
				return fmt.Errorf("FillAllTypes %v: %w", cmd.Args(), err)
			}
		}
	}
	return nil
}
