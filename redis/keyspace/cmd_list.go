package keyspace

import "github.com/replsm/replsm/redis/resp"

func cmdLPush(c *execCtx, args [][]byte) Reply { return c.push(args, true, false) }

func cmdRPush(c *execCtx, args [][]byte) Reply { return c.push(args, false, false) }

func cmdLPushX(c *execCtx, args [][]byte) Reply { return c.push(args, true, true) }

func cmdRPushX(c *execCtx, args [][]byte) Reply { return c.push(args, false, true) }

func (c *execCtx) push(args [][]byte, front, onlyExisting bool) Reply {
	o, ok := c.writeTyped(args[1], TypeList)
	if !ok {
		return wrongType()
	}
	if o == nil {
		if onlyExisting {
			return integer(0)
		}
		o = newList(c.gen())
		c.create(args[1], o)
	}
	for _, v := range args[2:] {
		if front {
			o.list.pushFront(clone(v))
		} else {
			o.list.pushBack(clone(v))
		}
	}
	c.dirty += len(args) - 2
	return integer(int64(o.list.len()))
}

func cmdLPop(c *execCtx, args [][]byte) Reply { return c.pop(args, true) }

func cmdRPop(c *execCtx, args [][]byte) Reply { return c.pop(args, false) }

func (c *execCtx) pop(args [][]byte, front bool) Reply {
	if len(args) > 3 {
		return arityReply(lower(args[0]))
	}
	withCount := len(args) == 3
	count := int64(1)
	if withCount {
		n, ok := parseInt(args[2])
		if !ok {
			return notInteger()
		}
		if n < 0 {
			return errReply("ERR value is out of range, must be positive")
		}
		count = n
	}
	o, ok := c.writeTyped(args[1], TypeList)
	if !ok {
		return wrongType()
	}
	if o == nil {
		if withCount {
			return resp.NullArray()
		}
		return null()
	}
	if count == 0 {
		return resp.Array()
	}
	n := min(count, int64(o.list.len()))
	popped := make([][]byte, 0, n)
	for range n {
		if front {
			popped = append(popped, o.list.popFront())
		} else {
			popped = append(popped, o.list.popBack())
		}
	}
	c.deleteIfEmpty(args[1], o)
	c.dirty += int(n)
	if withCount {
		return bulkArray(popped)
	}
	return bulk(popped[0])
}

func cmdLSet(c *execCtx, args [][]byte) Reply {
	o, ok := c.writeTyped(args[1], TypeList)
	if !ok {
		return wrongType()
	}
	if o == nil {
		return noSuchKey()
	}
	idx, ok := parseInt(args[2])
	if !ok {
		return notInteger()
	}
	i, in := listIndex(idx, o.list.len())
	if !in {
		return errReply("ERR index out of range")
	}
	o.list.set(i, clone(args[3]))
	c.dirty++
	return okReply()
}

// listRange clamps start and end as LRANGE and LTRIM do; ok is false for an
// empty range.
func listRange(start, end, n int64) (int64, int64, bool) {
	if start < 0 {
		start += n
	}
	if end < 0 {
		end += n
	}
	start = max(start, 0)
	if start > end || start >= n {
		return 0, 0, false
	}
	return start, min(end, n-1), true
}

func cmdLTrim(c *execCtx, args [][]byte) Reply {
	start, ok1 := parseInt(args[2])
	end, ok2 := parseInt(args[3])
	if !ok1 || !ok2 {
		return notInteger()
	}
	o, ok := c.writeTyped(args[1], TypeList)
	if !ok {
		return wrongType()
	}
	if o == nil {
		return okReply()
	}
	n := int64(o.list.len())
	s, e, nonEmpty := listRange(start, end, n)
	if !nonEmpty {
		o.list.reset(nil)
	} else {
		o.list.reset(o.list.slice(int(s), int(e)+1))
	}
	c.dirty += int(n) - o.list.len()
	c.deleteIfEmpty(args[1], o)
	return okReply()
}

func cmdLRem(c *execCtx, args [][]byte) Reply {
	toRemove, ok := parseInt(args[2])
	if !ok {
		return notInteger()
	}
	o, ok := c.writeTyped(args[1], TypeList)
	if !ok {
		return wrongType()
	}
	if o == nil {
		return integer(0)
	}
	elems := o.list.all()
	target := string(args[3])
	removed := int64(0)
	keep := make([]bool, len(elems))
	for i := range keep {
		keep[i] = true
	}
	// Positive counts remove from the head, negative from the tail, zero
	// removes every match.
	limit := toRemove
	if limit < 0 {
		limit = -limit
	}
	for j := range elems {
		i := j
		if toRemove < 0 {
			i = len(elems) - 1 - j
		}
		if string(elems[i]) == target && (limit == 0 || removed < limit) {
			keep[i] = false
			removed++
		}
	}
	if removed > 0 {
		out := make([][]byte, 0, len(elems)-int(removed))
		for i, e := range elems {
			if keep[i] {
				out = append(out, e)
			}
		}
		o.list.reset(out)
		c.dirty += int(removed)
		c.deleteIfEmpty(args[1], o)
	}
	return integer(removed)
}

func cmdLRange(c *execCtx, args [][]byte) Reply {
	start, ok1 := parseInt(args[2])
	end, ok2 := parseInt(args[3])
	if !ok1 || !ok2 {
		return notInteger()
	}
	o, ok := c.readTyped(args[1], TypeList)
	if !ok {
		return wrongType()
	}
	if o == nil {
		return resp.Array()
	}
	s, e, nonEmpty := listRange(start, end, int64(o.list.len()))
	if !nonEmpty {
		return resp.Array()
	}
	return bulkArray(o.list.slice(int(s), int(e)+1))
}

func cmdLLen(c *execCtx, args [][]byte) Reply {
	o, ok := c.readTyped(args[1], TypeList)
	if !ok {
		return wrongType()
	}
	if o == nil {
		return integer(0)
	}
	return integer(int64(o.list.len()))
}

func cmdLIndex(c *execCtx, args [][]byte) Reply {
	o, ok := c.readTyped(args[1], TypeList)
	if !ok {
		return wrongType()
	}
	if o == nil {
		return null()
	}
	idx, ok := parseInt(args[2])
	if !ok {
		return notInteger()
	}
	i, in := listIndex(idx, o.list.len())
	if !in {
		return null()
	}
	return bulk(o.list.at(i))
}

// listIndex resolves a Redis list index (negative counts from the end)
// against a list of n elements, reporting whether it falls inside.
func listIndex(idx int64, n int) (int, bool) {
	if idx < 0 {
		idx += int64(n)
	}
	if idx < 0 || idx >= int64(n) {
		return 0, false
	}
	return int(idx), true
}
