package demo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/redis/go-redis/v9"

	"github.com/replsm/replsm/internal/redisview"
)

// demoDBs are the databases the load writes to (SELECT is part of the
// stream the replica must follow).
var demoDBs = []int{0, 1}

// load writes a mix of every data type to each primary at a fixed rate
// until stopped. It is bounded in time by its owner and in size by its key
// space: keys are reused, so memory stays flat however long it runs.
type load struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	writes atomic.Uint64
	once   sync.Once
}

func startLoad(addrs []string, rate int, clk clock.Clock) *load {
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{cancel: cancel}
	for i, addr := range addrs {
		for _, db := range demoDBs {
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				l.write(ctx, clk, redis.NewClient(redisview.ClientOptions(addr, db)), i, db, rate/len(demoDBs))
			}()
		}
	}
	return l
}

func (l *load) stop() {
	l.once.Do(func() {
		l.cancel()
		l.wg.Wait()
	})
}

// write sends rate commands a second in batches of a tenth of a second.
func (l *load) write(ctx context.Context, clk clock.Clock, c *redis.Client, shard, db, rate int) {
	defer c.Close()
	r := rand.New(rand.NewPCG(uint64(shard), uint64(db)))
	tick := clk.Ticker(100 * time.Millisecond)
	defer tick.Stop()
	batch := max(1, rate/10)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		pipe := c.Pipeline()
		for i := 0; i < batch; i++ {
			queueWrite(ctx, pipe, r, shard)
		}
		cmds, _ := pipe.Exec(ctx)
		for _, cmd := range cmds {
			if cmd.Err() == nil || cmd.Err() == redis.Nil {
				l.writes.Add(1)
			}
		}
	}
}

func queueWrite(ctx context.Context, p redis.Pipeliner, r *rand.Rand, shard int) {
	k := func(kind string, n int) string { return fmt.Sprintf("s%d:%s:%d", shard, kind, r.IntN(n)) }
	switch r.IntN(10) {
	case 0:
		p.Set(ctx, k("str", 400), r.Int64(), 0)
	case 1:
		p.Set(ctx, k("ttl", 100), r.Int64(), 10*time.Minute) // outlives the run: nothing expires mid-compare
	case 2:
		p.Incr(ctx, k("ctr", 50))
	case 3:
		p.HSet(ctx, k("hash", 50), fmt.Sprintf("f%d", r.IntN(20)), r.Int64())
	case 4:
		key := k("list", 30)
		p.RPush(ctx, key, r.Int64())
		if r.IntN(2) == 0 {
			p.LPop(ctx, key)
		}
	case 5:
		p.SAdd(ctx, k("set", 30), r.IntN(100))
	case 6:
		p.SRem(ctx, k("set", 30), r.IntN(100))
	case 7:
		p.ZAdd(ctx, k("zset", 30), redis.Z{Score: float64(r.IntN(1000)), Member: fmt.Sprintf("m%d", r.IntN(40))})
	case 8:
		p.Append(ctx, k("str", 400), "x")
	case 9:
		p.Del(ctx, k("str", 400))
	}
}
