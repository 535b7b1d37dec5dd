package resp

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// Kind says which RESP2 type a Value holds.
type Kind uint8

// The RESP2 kinds, plus the keepalive a primary sends.
const (
	// KindInvalid is the zero Kind; no Reader ever returns it.
	KindInvalid Kind = iota
	// KindSimpleString is "+<text>\r\n".
	KindSimpleString
	// KindError is "-<text>\r\n".
	KindError
	// KindInteger is ":<n>\r\n".
	KindInteger
	// KindBulkString is "$<len>\r\n<bytes>\r\n", or "$-1\r\n" when Null.
	KindBulkString
	// KindArray is "*<count>\r\n" followed by count values, or "*-1\r\n"
	// when Null.
	KindArray
	// KindKeepalive is an empty line ("\n" or "\r\n"). A primary sends bare
	// newlines before +FULLRESYNC and before the RDB preamble to keep the
	// link alive; they carry no value.
	KindKeepalive
)

var kindNames = [...]string{
	KindInvalid:      "invalid",
	KindSimpleString: "simple-string",
	KindError:        "error",
	KindInteger:      "integer",
	KindBulkString:   "bulk-string",
	KindArray:        "array",
	KindKeepalive:    "keepalive",
}

// String returns the kind's name.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Value is one RESP2 value. Only the fields that belong to Kind are set.
type Value struct {
	Kind Kind
	// Str is the payload of a simple string, an error (without the leading
	// '-') or a bulk string.
	Str []byte
	// Int is the value of an integer.
	Int int64
	// Array holds the elements of an array.
	Array []Value
	// Null marks the RESP2 null bulk string ("$-1") or null array ("*-1").
	Null bool
}

// SimpleString returns a simple-string value.
func SimpleString(s string) Value { return Value{Kind: KindSimpleString, Str: []byte(s)} }

// Error returns an error value; msg conventionally starts with an upper-case
// code such as "ERR" or "WRONGTYPE".
func Error(msg string) Value { return Value{Kind: KindError, Str: []byte(msg)} }

// Integer returns an integer value.
func Integer(n int64) Value { return Value{Kind: KindInteger, Int: n} }

// Bulk returns a bulk-string value holding b (not copied).
func Bulk(b []byte) Value {
	if b == nil {
		b = []byte{}
	}
	return Value{Kind: KindBulkString, Str: b}
}

// BulkString returns a bulk-string value holding s.
func BulkString(s string) Value { return Value{Kind: KindBulkString, Str: []byte(s)} }

// NullBulk returns the null bulk string, Redis's nil reply.
func NullBulk() Value { return Value{Kind: KindBulkString, Null: true} }

// Array returns an array value of vs (not copied).
func Array(vs ...Value) Value {
	if vs == nil {
		vs = []Value{}
	}
	return Value{Kind: KindArray, Array: vs}
}

// NullArray returns the null array.
func NullArray() Value { return Value{Kind: KindArray, Null: true} }

// IsNull reports whether v is a null bulk string or a null array.
func (v Value) IsNull() bool { return v.Null }

// Text returns Str as a string.
func (v Value) Text() string { return string(v.Str) }

// Equal reports whether v and o encode to the same RESP bytes. Unlike
// reflect.DeepEqual it does not distinguish a nil Str or Array from an empty
// one.
func (v Value) Equal(o Value) bool {
	if v.Kind != o.Kind || v.Null != o.Null {
		return false
	}
	switch v.Kind {
	case KindSimpleString, KindError, KindBulkString:
		return bytes.Equal(v.Str, o.Str)
	case KindInteger:
		return v.Int == o.Int
	case KindArray:
		if len(v.Array) != len(o.Array) {
			return false
		}
		for i := range v.Array {
			if !v.Array[i].Equal(o.Array[i]) {
				return false
			}
		}
		return true
	}
	return true
}

// String renders v in a compact, redis-cli-like form for logs and test
// failures; it is not the wire encoding (see AppendValue).
func (v Value) String() string {
	var b strings.Builder
	v.format(&b)
	return b.String()
}

func (v Value) format(b *strings.Builder) {
	switch v.Kind {
	case KindSimpleString:
		b.WriteString(string(v.Str))
	case KindError:
		b.WriteString("(error) ")
		b.WriteString(string(v.Str))
	case KindInteger:
		b.WriteString("(integer) ")
		b.WriteString(strconv.FormatInt(v.Int, 10))
	case KindBulkString:
		if v.Null {
			b.WriteString("(nil)")
			return
		}
		b.WriteString(strconv.Quote(string(v.Str)))
	case KindArray:
		if v.Null {
			b.WriteString("(nil array)")
			return
		}
		b.WriteByte('[')
		for i, e := range v.Array {
			if i > 0 {
				b.WriteString(", ")
			}
			e.format(b)
		}
		b.WriteByte(']')
	case KindKeepalive:
		b.WriteString("(keepalive)")
	default:
		fmt.Fprintf(b, "(%s)", v.Kind)
	}
}
