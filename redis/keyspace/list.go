package keyspace

// deque is a list's storage: pushes and pops at either end are amortized
// O(1), which redis-benchmark's LPUSH/LPOP loops on one key need.
type deque struct {
	front [][]byte // reversed: front[len(front)-1] is the head
	back  [][]byte
}

func (d *deque) len() int { return len(d.front) + len(d.back) }

func (d *deque) at(i int) []byte {
	if i < len(d.front) {
		return d.front[len(d.front)-1-i]
	}
	return d.back[i-len(d.front)]
}

func (d *deque) set(i int, v []byte) {
	if i < len(d.front) {
		d.front[len(d.front)-1-i] = v
		return
	}
	d.back[i-len(d.front)] = v
}

func (d *deque) pushFront(v []byte) { d.front = append(d.front, v) }

func (d *deque) pushBack(v []byte) { d.back = append(d.back, v) }

func (d *deque) popFront() []byte {
	if n := len(d.front); n > 0 {
		v := d.front[n-1]
		d.front[n-1] = nil
		d.front = d.front[:n-1]
		return v
	}
	v := d.back[0]
	d.back[0] = nil
	d.back = d.back[1:]
	return v
}

func (d *deque) popBack() []byte {
	if n := len(d.back); n > 0 {
		v := d.back[n-1]
		d.back[n-1] = nil
		d.back = d.back[:n-1]
		return v
	}
	v := d.front[0]
	d.front[0] = nil
	d.front = d.front[1:]
	return v
}

// slice returns elements [start, end) head first.
func (d *deque) slice(start, end int) [][]byte {
	out := make([][]byte, 0, end-start)
	for i := start; i < end; i++ {
		out = append(out, d.at(i))
	}
	return out
}

func (d *deque) all() [][]byte { return d.slice(0, d.len()) }

// reset replaces the contents with vals, head first.
func (d *deque) reset(vals [][]byte) {
	d.front = nil
	d.back = vals
}

func (d *deque) clone() *deque {
	return &deque{back: d.all()}
}
