package store

import (
	"sort"
	"sync"
)

// Memory is a Store kept in process memory. It has the same semantics as
// Bolt (ordering, idempotent keys, validation) but nothing survives the
// process; it lets the core run, and tests run, without a file.
type Memory struct {
	mu      sync.Mutex
	closed  bool
	cursors map[string]Cursor
	nextSeq uint64
	// order holds every appended seq in increasing order; acked ones stay
	// until compaction and are skipped because they are missing from byKey.
	order []uint64
	bySeq map[uint64]Milestone
	byKey map[string]uint64
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{
		cursors: make(map[string]Cursor),
		nextSeq: 1,
		bySeq:   make(map[uint64]Milestone),
		byKey:   make(map[string]uint64),
	}
}

var _ Store = (*Memory)(nil)
var _ BatchAcker = (*Memory)(nil)

// LoadCursor implements Store.
func (s *Memory) LoadCursor(slot string) (Cursor, bool, error) {
	if err := validateSlot(slot); err != nil {
		return Cursor{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Cursor{}, false, ErrClosed
	}
	c, ok := s.cursors[slot]
	return c, ok, nil
}

// SaveCursors implements Store. The batch is applied all or nothing.
func (s *Memory) SaveCursors(cursors map[string]Cursor) error {
	for slot, c := range cursors {
		if err := validateCursor(slot, c); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	for slot, c := range cursors {
		s.cursors[slot] = c
	}
	return nil
}

// AppendMilestone implements Store.
func (s *Memory) AppendMilestone(m Milestone) (Milestone, error) {
	out, err := s.AppendMilestones([]Milestone{m})
	if err != nil {
		return Milestone{}, err
	}
	return out[0], nil
}

// AppendMilestones appends a batch atomically, with the same per-milestone
// semantics as AppendMilestone.
func (s *Memory) AppendMilestones(ms []Milestone) ([]Milestone, error) {
	for _, m := range ms {
		if err := validateMilestone(m); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	out := make([]Milestone, len(ms))
	for i, m := range ms {
		if seq, ok := s.byKey[m.Key]; ok {
			out[i] = cloneMilestone(s.bySeq[seq])
			continue
		}
		m = normalize(m)
		m.Seq = s.nextSeq
		s.nextSeq++
		s.bySeq[m.Seq] = m
		s.byKey[m.Key] = m.Seq
		s.order = append(s.order, m.Seq)
		out[i] = cloneMilestone(m)
	}
	return out, nil
}

// AckMilestone implements Store.
func (s *Memory) AckMilestone(seq uint64) error {
	return s.AckMilestones([]uint64{seq})
}

// AckMilestones implements BatchAcker.
func (s *Memory) AckMilestones(seqs []uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	for _, seq := range seqs {
		m, ok := s.bySeq[seq]
		if !ok {
			continue
		}
		delete(s.bySeq, seq)
		delete(s.byKey, m.Key)
	}
	// Compact once most of order is dead, so acks stay amortized O(1).
	if len(s.order) > 64 && len(s.bySeq) < len(s.order)/2 {
		live := make([]uint64, 0, len(s.bySeq))
		for _, seq := range s.order {
			if _, ok := s.bySeq[seq]; ok {
				live = append(live, seq)
			}
		}
		s.order = live
	}
	return nil
}

// PendingMilestones implements Store.
func (s *Memory) PendingMilestones(afterSeq uint64, limit int) ([]Milestone, error) {
	if err := validateLimit(limit); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	i := sort.Search(len(s.order), func(i int) bool { return s.order[i] > afterSeq })
	var out []Milestone
	for ; i < len(s.order) && len(out) < limit; i++ {
		if m, ok := s.bySeq[s.order[i]]; ok {
			out = append(out, cloneMilestone(m))
		}
	}
	return out, nil
}

// PendingCount implements Store.
func (s *Memory) PendingCount() (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, ErrClosed
	}
	return len(s.bySeq), nil
}

// Close implements Store. Contents are dropped.
func (s *Memory) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

// String names the store in logs.
func (s *Memory) String() string { return "memory store" }
