package keyspace

func cmdSAdd(c *execCtx, args [][]byte) Reply {
	o, ok := c.writeTyped(args[1], TypeSet)
	if !ok {
		return wrongType()
	}
	created := o == nil
	if created {
		o = newSet(c.gen())
	}
	added := 0
	for _, m := range args[2:] {
		if _, exists := o.set[string(m)]; !exists {
			o.set[string(m)] = struct{}{}
			added++
		}
	}
	if created {
		c.create(args[1], o)
	}
	c.dirty += added
	return integer(int64(added))
}

func cmdSRem(c *execCtx, args [][]byte) Reply {
	o, ok := c.writeTyped(args[1], TypeSet)
	if !ok {
		return wrongType()
	}
	if o == nil {
		return integer(0)
	}
	n := 0
	for _, m := range args[2:] {
		if _, exists := o.set[string(m)]; exists {
			delete(o.set, string(m))
			n++
		}
	}
	c.deleteIfEmpty(args[1], o)
	c.dirty += n
	return integer(int64(n))
}

func cmdSMembers(c *execCtx, args [][]byte) Reply {
	o, ok := c.readTyped(args[1], TypeSet)
	if !ok {
		return wrongType()
	}
	if o == nil {
		return bulkStrings(nil)
	}
	return bulkStrings(sortedMembers(o.set))
}

func cmdSIsMember(c *execCtx, args [][]byte) Reply {
	o, ok := c.readTyped(args[1], TypeSet)
	if !ok {
		return wrongType()
	}
	if o == nil {
		return integer(0)
	}
	_, exists := o.set[string(args[2])]
	return boolInt(exists)
}

func cmdSCard(c *execCtx, args [][]byte) Reply {
	o, ok := c.readTyped(args[1], TypeSet)
	if !ok {
		return wrongType()
	}
	if o == nil {
		return integer(0)
	}
	return integer(int64(len(o.set)))
}
