package keyspace

// globMatch reports whether str matches the glob pattern as KEYS and
// SCAN MATCH do. It is a port of Redis's stringmatchlen: '*', '?', '[...]'
// classes with '^' negation and 'a-z' ranges, and '\' escapes.
func globMatch(pattern, str []byte) bool {
	skip := false
	return globImpl(pattern, str, &skip, 0)
}

func globImpl(p, s []byte, skipLonger *bool, nesting int) bool {
	// Protection against abusive patterns, as in Redis.
	if nesting > 1000 {
		return false
	}
	// at reads the pattern like the NUL-terminated C string Redis walks.
	at := func(i int) byte {
		if i < len(p) {
			return p[i]
		}
		return 0
	}
	pi, si := 0, 0
	for pi < len(p) && si < len(s) {
		switch p[pi] {
		case '*':
			for pi+1 < len(p) && p[pi+1] == '*' {
				pi++
			}
			if pi == len(p)-1 {
				return true
			}
			for si < len(s) {
				if globImpl(p[pi+1:], s[si:], skipLonger, nesting+1) {
					return true
				}
				if *skipLonger {
					return false
				}
				si++
			}
			// No match for the rest of the pattern anywhere in the rest of
			// the string: an earlier '*' cannot help by matching more.
			*skipLonger = true
			return false
		case '?':
			si++
		case '[':
			pi++
			not := at(pi) == '^'
			if not {
				pi++
			}
			match := false
			for {
				if at(pi) == '\\' && len(p)-pi >= 2 {
					pi++
					if p[pi] == s[si] {
						match = true
					}
				} else if at(pi) == ']' {
					break
				} else if pi >= len(p) {
					pi-- // unterminated class: the advance below lands on the end
					break
				} else if len(p)-pi >= 3 && p[pi+1] == '-' {
					// Redis compares plain (signed) chars.
					start, end, c := int8(p[pi]), int8(p[pi+2]), int8(s[si])
					if start > end {
						start, end = end, start
					}
					pi += 2
					if c >= start && c <= end {
						match = true
					}
				} else if p[pi] == s[si] {
					match = true
				}
				pi++
			}
			if not {
				match = !match
			}
			if !match {
				return false
			}
			si++
		case '\\':
			if len(p)-pi >= 2 {
				pi++
			}
			fallthrough
		default:
			if p[pi] != s[si] {
				return false
			}
			si++
		}
		pi++
		if si == len(s) {
			for at(pi) == '*' {
				pi++
			}
			break
		}
	}
	return pi >= len(p) && si == len(s)
}
