package host

import (
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/fsm"
	"github.com/replsm/replsm/timeouts"
)

// toy is the smallest machine on a Host: Up and Down (its Error state).
type toy struct {
	Host[string, string]
	policy    Recovery
	unreached bool
	effects   []OutKind
	recs      []fsm.Record[string, string]
}

var toyDef = fsm.MustCompile(fsm.Spec[string, string]{
	Name: "toy",
	States: []fsm.State[string]{
		{Name: "Up", Kind: fsm.KindInitial}, {Name: "Down", Kind: fsm.KindError},
	},
	Transitions: []fsm.Transition[string, string]{
		{Event: "fail", Src: []string{"Up"}, Dst: "Down"},
		{Event: "recover", Src: []string{"Down"}, Dst: "Up"},
	},
})

func (t *toy) Entered(rec *fsm.Record[string, string]) {
	switch rec.To {
	case "Down":
		t.EnterError(rec, &t.policy, t.unreached, true)
	case "Up":
		// Healthy only long after: the budget is not refilled in these tests.
	}
}

func (t *toy) Due(now time.Time) {
	if attempt, _, _ := t.ErrorDue(now); attempt != "" {
		t.Fire("recover", attempt)
	}
}

func (t *toy) Effect(o *Output[string, string]) { t.effects = append(t.effects, o.Kind) }

func newToy(t *testing.T, cap int, p Recovery) (*toy, *clock.Mock, *Runtime) {
	clk := clock.NewMock()
	rt := NewRuntime(clk, nil, 1)
	m := &toy{policy: p}
	b, err := timeouts.NewBudget(cap, time.Hour)
	require.NoError(t, err)
	kind := &Kind[string, string]{Error: "Down", Observers: []func(fsm.Record[string, string]){func(r fsm.Record[string, string]) { m.recs = append(m.recs, r) }}}
	m.Init(rt, toyDef, "toy/1", m, kind, b, 1)
	return m, clk, rt
}

func (m *toy) fail() {
	m.Mu.Lock()
	m.Fire("fail", "")
	m.UnlockAndFlush()
}

func run(clk *clock.Mock, rt *Runtime, d time.Duration) {
	end := clk.Now().Add(d)
	for {
		next, ok := rt.Next()
		if !ok || next.After(end) {
			break
		}
		clk.Set(next)
		rt.RunDue()
	}
	clk.Set(end)
}

// Exhaustion is reported once per episode; the slow cadence keeps going.
func TestExhaustionOncePerEpisodeThenSlowCadence(t *testing.T) {
	p := Recovery{Backoff: timeouts.DefaultBackoff(), ExhaustedRetry: time.Minute}
	m, clk, rt := newToy(t, 2, p)
	for i := 0; i < 6; i++ {
		m.fail()
		run(clk, rt, 2*time.Minute)
	}
	exhausted := 0
	for _, k := range m.effects {
		if k == OutExhausted {
			exhausted++
		}
	}
	assert.Equal(t, 1, exhausted)
	var attempts []string
	for _, r := range m.recs {
		if r.Event == "recover" {
			attempts = append(attempts, r.Reason)
		}
	}
	assert.Equal(t, []string{"1/2", "2/2", "slow", "slow", "slow", "slow"}, attempts)
	m.Mu.Lock()
	m.Healthy(clk.Now())
	assert.False(t, m.Exhausted, "healthy ends the episode")
	m.Mu.Unlock()
}

// Probes go out at their interval only after an unreached failure, and not
// once an operator-mode machine is exhausted.
func TestProbesOnlyForUnreachedFailures(t *testing.T) {
	p := Recovery{Backoff: timeouts.Backoff{Initial: time.Hour, Multiplier: 1, Max: time.Hour}, ProbeInterval: time.Second}
	m, clk, rt := newToy(t, 1, p)
	m.fail()
	run(clk, rt, 5*time.Second)
	assert.NotContains(t, m.effects, OutProbe, "a reached failure is not probed")

	m2, clk2, rt2 := newToy(t, 1, p)
	m2.unreached = true
	m2.fail()
	run(clk2, rt2, 3500*time.Millisecond)
	probes := 0
	for _, k := range m2.effects {
		if k == OutProbe {
			probes++
		}
	}
	assert.Equal(t, 3, probes)
	m2.Mu.Lock()
	assert.True(t, m2.Probing())
	m2.Mu.Unlock()

	// Operator mode: once exhausted, nothing automatic.
	p.ExhaustedRetry = 0
	m3, clk3, rt3 := newToy(t, 1, p)
	m3.unreached = true
	m3.Mu.Lock()
	m3.Budget.Take()
	m3.Mu.Unlock()
	m3.fail()
	run(clk3, rt3, 10*time.Second)
	assert.NotContains(t, m3.effects, OutProbe)
	assert.Equal(t, "Down", m3.M.State())
}

func TestSessionsAndProbesNeverRepeat(t *testing.T) {
	rt := NewRuntime(clock.NewMock(), nil, 1)
	seen := map[Session]bool{}
	for i := 0; i < 1000; i++ {
		s := rt.NewSession()
		require.False(t, seen[s])
		seen[s] = true
	}
	assert.NotZero(t, NewRuntime(clock.NewMock(), nil, 0).Seed(), "a zero seed is drawn")
}
