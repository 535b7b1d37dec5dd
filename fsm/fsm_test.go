package fsm

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type st string
type ev string

func toySpec() Spec[st, ev] {
	return Spec[st, ev]{
		Name: "toy",
		States: []State[st]{
			{Name: "idle", Kind: KindInitial, Doc: "waiting"},
			{Name: "busy", Doc: "working"},
			{Name: "broken", Kind: KindError, Doc: "failed"},
			{Name: "gone", Kind: KindTerminal, Doc: "the end"},
		},
		Transitions: []Transition[st, ev]{
			{Event: "go", Src: []st{"idle"}, Dst: "busy"},
			{Event: "done", Src: []st{"busy"}, Dst: "idle"},
			{Event: "poke", Src: []st{"busy"}, Dst: "busy"},
			{Event: "fail", Src: []st{"idle", "busy"}, Dst: "broken"},
			{Event: "fix", Src: []st{"broken"}, Dst: "idle", Guard: "attempts < cap", Timer: "backoff"},
			{Event: "stop", Src: []st{"idle", "broken"}, Dst: "gone"},
		},
	}
}

func TestValidateAcceptsToy(t *testing.T) {
	require.NoError(t, toySpec().Validate())
}

func TestValidateRejects(t *testing.T) {
	for name, tc := range map[string]struct {
		mutate func(*Spec[st, ev])
		want   string
	}{
		"unknown dst": {func(s *Spec[st, ev]) { s.Transitions[0].Dst = "nowhere" }, `goes to unknown state "nowhere"`},
		"unknown src": {func(s *Spec[st, ev]) { s.Transitions[0].Src = []st{"nowhere"} }, `comes from unknown state "nowhere"`},
		"two dsts": {func(s *Spec[st, ev]) {
			s.Transitions = append(s.Transitions, Transition[st, ev]{Event: "go", Src: []st{"idle"}, Dst: "broken"})
		}, "two destinations"},
		"unreachable":     {func(s *Spec[st, ev]) { s.States = append(s.States, State[st]{Name: "island", Kind: KindTerminal}) }, "island is unreachable"},
		"dead end":        {func(s *Spec[st, ev]) { s.States[3].Kind = KindNormal }, "gone is a dead end"},
		"no initial":      {func(s *Spec[st, ev]) { s.States[0].Kind = KindNormal }, "exactly one initial"},
		"duplicate state": {func(s *Spec[st, ev]) { s.States = append(s.States, State[st]{Name: "busy"}) }, "busy declared twice"},
		"no name":         {func(s *Spec[st, ev]) { s.Name = "" }, "no name"},
	} {
		t.Run(name, func(t *testing.T) {
			s := toySpec()
			tc.mutate(&s)
			err := s.Validate()
			require.ErrorIs(t, err, ErrInvalidSpec)
			assert.Contains(t, err.Error(), tc.want)
			_, err = Compile(s)
			require.ErrorIs(t, err, ErrInvalidSpec)
		})
	}
}

// recorder is a test Env: a fixed clock, optional follow-ups, kept records.
type recorder struct {
	now     time.Time
	then    map[st]ev
	records []Record[st, ev]
}

func (r *recorder) Now() time.Time { return r.now }
func (r *recorder) Entered(m *Machine[st, ev], rec *Record[st, ev]) {
	if e, ok := r.then[rec.To]; ok {
		m.Then(e, "follow-up")
	}
}
func (r *recorder) Emit(rec *Record[st, ev]) { r.records = append(r.records, *rec) }

func TestFireRecordsAndErrors(t *testing.T) {
	def := MustCompile(toySpec())
	m := NewMachine(def, "toy/1")
	env := &recorder{now: time.Unix(100, 0)}

	rec, err := m.Fire("go", "start", env)
	require.NoError(t, err)
	assert.Equal(t, Record[st, ev]{Machine: "toy", ID: "toy/1", Seq: 1, Event: "go", From: "idle", To: "busy", Time: env.now, Reason: "start"}, rec)

	// A legal self-loop is a success, and recorded.
	rec, err = m.Fire("poke", "", env)
	require.NoError(t, err)
	assert.Equal(t, st("busy"), rec.To)
	assert.Equal(t, uint64(2), rec.Seq)

	_, err = m.Fire("bogus", "", env)
	require.ErrorIs(t, err, ErrUnknownEvent)
	var ee *EventError
	require.True(t, errors.As(err, &ee))
	assert.Equal(t, "bogus", ee.Event)

	_, err = m.Fire("go", "", env)
	require.ErrorIs(t, err, ErrNotAllowed)
	assert.EqualError(t, err, `toy toy/1: event "go" not allowed in state busy`)
	assert.Equal(t, st("busy"), m.State(), "a refused event changes nothing")
	assert.Equal(t, uint64(2), m.Seq())
	assert.Len(t, env.records, 2)
}

func TestFollowUpsRunAfterInOrder(t *testing.T) {
	def := MustCompile(toySpec())
	m := NewMachine(def, "toy/1")
	env := &recorder{then: map[st]ev{"broken": "fix", "idle": "stop"}}
	_, err := m.Fire("fail", "boom", env)
	require.NoError(t, err)
	var got []string
	for _, r := range env.records {
		got = append(got, fmt.Sprintf("#%d %s %s->%s", r.Seq, r.Event, r.From, r.To))
	}
	assert.Equal(t, []string{"#1 fail idle->broken", "#2 fix broken->idle", "#3 stop idle->gone"}, got)

	// A rejected follow-up keeps what happened before it and says so.
	m2 := NewMachine(def, "toy/2")
	env2 := &recorder{then: map[st]ev{"busy": "fix"}}
	_, err = m2.Fire("go", "", env2)
	require.ErrorIs(t, err, ErrFollowUp)
	require.ErrorIs(t, err, ErrNotAllowed)
	assert.Equal(t, st("busy"), m2.State())
}

func TestRecordString(t *testing.T) {
	r := Record[st, ev]{ID: "slot/1", Seq: 4, Event: "fail", From: "busy", To: "broken", Reason: "no reply in 10s"}
	assert.Equal(t, `slot/1 #4 fail busy -> broken reason="no reply in 10s"`, r.String())
}

func TestRestore(t *testing.T) {
	m := NewMachine(MustCompile(toySpec()), "toy/1")
	require.ErrorIs(t, m.Restore("nowhere", 1), ErrUnknownState)
	require.NoError(t, m.Restore("broken", 9))
	assert.True(t, m.Can("fix"))
	assert.False(t, m.Can("go"))
	assert.False(t, m.Can("bogus"))
}
