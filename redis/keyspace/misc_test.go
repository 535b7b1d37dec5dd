package keyspace

import (
	"math"
	"strconv"
	"sync"
	"testing"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, str string
		want         bool
	}{
		{"*", "", false}, // as in Redis; KEYS and SCAN special-case a lone "*"
		{"*", "anything", true},
		{"a*", "abc", true},
		{"a*c", "abbbc", true},
		{"a*c", "abbb", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"h[ae]llo", "hello", true},
		{"h[ae]llo", "hillo", false},
		{"h[^e]llo", "hallo", true},
		{"h[^e]llo", "hello", false},
		{"h[a-b]llo", "hbllo", true},
		{"h[b-a]llo", "hallo", true},
		{"h[a-b]llo", "hcllo", false},
		{`h\*llo`, "h*llo", true},
		{`h\*llo`, "hello", false},
		{`[\]]`, "]", true},
		{"[abc", "a", true}, // unterminated class
		{"a**b", "ab", true},
		{"a*", "", false},
		{"", "", true},
		{"", "a", false},
		{"abc", "abc", true},
		{"abc", "abcd", false},
		{"*a*a*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, globMatch([]byte(tt.pattern), []byte(tt.str)), "%q ~ %q", tt.pattern, tt.str)
	}
}

func TestNumbers(t *testing.T) {
	for s, want := range map[string]int64{"0": 0, "-1": -1, "9223372036854775807": math.MaxInt64, "-9223372036854775808": math.MinInt64} {
		got, ok := parseInt([]byte(s))
		assert.True(t, ok, s)
		assert.Equal(t, want, got)
	}
	for _, s := range []string{"", "-", "+1", "01", "-0", " 1", "1.0", "9223372036854775808"} {
		_, ok := parseInt([]byte(s))
		assert.False(t, ok, s)
	}

	assert.Equal(t, "0.10000000000000001", string(formatDouble(0.1)))
	assert.Equal(t, "inf", string(formatDouble(math.Inf(1))))
	assert.Equal(t, "-inf", string(formatDouble(math.Inf(-1))))
	assert.Equal(t, "1e+100", string(formatDouble(1e100)))

	for _, s := range []string{"1", "-2.5", "inf", "-inf", "+inf", "1e308"} {
		_, ok := parseDouble([]byte(s))
		assert.True(t, ok, s)
	}
	for _, s := range []string{"", "nan", " 1", "1 ", "x", "1e400"} {
		_, ok := parseDouble([]byte(s))
		assert.False(t, ok, s)
	}

	// Redis's documented INCRBYFLOAT examples, computed in x87 precision.
	sum := func(a, b string) string {
		x, ok1 := parseLongDouble([]byte(a))
		y, ok2 := parseLongDouble([]byte(b))
		require.True(t, ok1 && ok2, "%s + %s", a, b)
		z, ok := addLongDouble(x, y)
		require.True(t, ok)
		return string(formatLongDouble(z))
	}
	assert.Equal(t, "10.6", sum("10.50", "0.1"))
	assert.Equal(t, "5.6", sum("10.6", "-5"))
	assert.Equal(t, "5200", sum("5.0e3", "2.0e2"))
	assert.Equal(t, "0.3", sum(sum("0.1", "0.1"), "0.1"))
	assert.Equal(t, "0", sum("-0.0", "0"))
	for _, s := range []string{"", " 1", "1x", "nan", "1e99999"} {
		_, ok := parseLongDouble([]byte(s))
		assert.False(t, ok, s)
	}
	inf, ok := parseLongDouble([]byte("inf"))
	require.True(t, ok)
	one, _ := parseLongDouble([]byte("1"))
	_, ok = addLongDouble(inf, one)
	assert.False(t, ok)
}

func TestTypeString(t *testing.T) {
	assert.Equal(t, "zset", TypeZSet.String())
	assert.Equal(t, "none", TypeNone.String())
	assert.Equal(t, "type(9)", Type(9).String())
}

// Writers, readers, snapshots and an RDB-style iteration running at once
// must be race-free (run with -race) and every snapshot must be internally
// consistent: the counter list and the counter string agree.
func TestConcurrentUse(t *testing.T) {
	ks := New(clock.New())
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db := w % 2
			for i := range 300 {
				_, err := ks.ExecAll(&db, [][][]byte{
					argv("RPUSH list " + strconv.Itoa(i)),
					argv("INCR n"),
				})
				assert.NoError(t, err)
				_, _ = ks.Exec(&db, argv("HSET h f"+strconv.Itoa(i%10)+" v"))
				_, _ = ks.Exec(&db, argv("ZADD z "+strconv.Itoa(i)+" m"+strconv.Itoa(i%7)))
				_, _ = ks.Exec(&db, argv("GET n"))
				_, _ = ks.Exec(&db, argv("LRANGE list 0 3"))
			}
		}()
	}
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 30 {
				lens := map[int]int{}
				counts := map[int]int{}
				assert.NoError(t, ks.Each(func(db int, key string, v Value, _ int64) error {
					switch key {
					case "list":
						lens[db] = len(v.List)
					case "n":
						n, _ := strconv.Atoi(string(v.Str))
						counts[db] = n
					}
					return nil
				}))
				assert.Equal(t, lens, counts)
				_ = ks.Digest()
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 8, ks.Len())
}
