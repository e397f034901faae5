package weights

// A restricted reader for Python pickles, enough for the state dicts that
// torch.save writes and nothing more.
//
// Python's own unpickler imports any module and calls any callable a pickle
// names, so loading an untrusted pickle runs arbitrary code. This machine
// instead resolves every GLOBAL through an allow-list supplied by its
// caller (see pytorch.go) and refuses anything else by name, before any use;
// REDUCE, NEWOBJ and BUILD only ever reach the caller's handlers, which
// build plain Go values. Nothing is executed. Every length is checked against
// the bytes left before it is used, the memo is a map (a large index costs
// nothing), the stack grows by at most one value per opcode and MARK nesting
// is capped, so the work and memory are bounded by the input's size. Values
// are never walked recursively, so self-referencing lists are harmless.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"
)

// maxPickleNesting bounds MARK nesting. A state dict nests four deep; the cap
// only stops crafted input from growing the mark stack without end.
const maxPickleNesting = 256

// Python values as the machine represents them: nil (None), bool, int64,
// float64, string, []byte, pyTuple, *pyList, *pyDict, *pyBigInt, and
// whatever the caller's handlers return (globals, storages, tensors).
type (
	pyTuple []any
	pyList  struct{ items []any }
	// pyBigInt is an int too wide for int64: its little-endian two's
	// complement bytes, as LONG1/LONG4 store it.
	pyBigInt struct{ le []byte }
	// pyDict keeps insertion order, as Python dicts do. Keys must be
	// hashable scalars; a repeated key replaces the value in place.
	pyDict struct {
		ordered bool // an OrderedDict rather than a dict
		keys    []any
		vals    []any
		index   map[any]int
	}
)

func newDict(ordered bool) *pyDict { return &pyDict{ordered: ordered, index: map[any]int{}} }

func (d *pyDict) set(k, v any) error {
	switch k.(type) {
	case nil, bool, int64, float64, string:
	default:
		return fmt.Errorf("dict key of type %s is not supported", pyTypeName(k))
	}
	if i, ok := d.index[k]; ok {
		d.vals[i] = v
		return nil
	}
	d.index[k] = len(d.keys)
	d.keys = append(d.keys, k)
	d.vals = append(d.vals, v)
	return nil
}

// pickleHooks is what a pickle may reach beyond plain data. Each hook
// returns an error for anything it does not know.
type pickleHooks struct {
	// global resolves GLOBAL/STACK_GLOBAL module and name.
	global func(module, name string) (any, error)
	// persistentLoad resolves a BINPERSID id.
	persistentLoad func(pid any) (any, error)
	// reduce applies a resolved global to its arguments (REDUCE, NEWOBJ).
	reduce func(fn any, args pyTuple) (any, error)
	// build applies BUILD's state to obj.
	build func(obj, state any) error
}

type unpickler struct {
	data  []byte
	pos   int
	op    int // offset of the opcode being run, for errors
	stack []any
	marks []int
	memo  map[uint64]any
	hooks pickleHooks
}

// ErrGlobalNotAllowed is wrapped by the error for a pickle that names a
// global (a module attribute such as os.system) outside the allow-list.
var ErrGlobalNotAllowed = errors.New("is not allowed")

// unpickle runs one pickle starting at data[0] up to its STOP and returns
// the value and the number of bytes it took.
func unpickle(data []byte, hooks pickleHooks) (any, int, error) {
	u := &unpickler{data: data, memo: map[uint64]any{}, hooks: hooks}
	v, err := u.run()
	if err != nil {
		return nil, u.pos, fmt.Errorf("pickle: %w", err)
	}
	return v, u.pos, nil
}

func (u *unpickler) errorf(format string, args ...any) error {
	return fmt.Errorf("byte %d: "+format, append([]any{u.op}, args...)...)
}

// take returns the next n bytes, or an error if fewer are left. n comes
// from the input, so it is compared before any slicing or allocation.
func (u *unpickler) take(n uint64, what string) ([]byte, error) {
	if n > uint64(len(u.data)-u.pos) {
		return nil, u.errorf("%s: %d bytes needed, %d left", what, n, len(u.data)-u.pos)
	}
	b := u.data[u.pos : u.pos+int(n)]
	u.pos += int(n)
	return b, nil
}

func (u *unpickler) uint(n int, what string) (uint64, error) {
	b, err := u.take(uint64(n), what)
	if err != nil {
		return 0, err
	}
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v, nil
}

// line reads up to a newline, as GLOBAL's operands are written.
func (u *unpickler) line(what string) (string, error) {
	for i := u.pos; i < len(u.data); i++ {
		if u.data[i] == '\n' {
			s := string(u.data[u.pos:i])
			u.pos = i + 1
			return s, nil
		}
	}
	return "", u.errorf("%s: no end of line", what)
}

func (u *unpickler) push(v any) { u.stack = append(u.stack, v) }

func (u *unpickler) pop() (any, error) {
	if len(u.stack) == 0 || len(u.marks) > 0 && len(u.stack) <= u.marks[len(u.marks)-1] {
		return nil, u.errorf("stack underflow")
	}
	v := u.stack[len(u.stack)-1]
	u.stack = u.stack[:len(u.stack)-1]
	return v, nil
}

func (u *unpickler) top() (any, error) {
	if len(u.stack) == 0 || len(u.marks) > 0 && len(u.stack) <= u.marks[len(u.marks)-1] {
		return nil, u.errorf("stack underflow")
	}
	return u.stack[len(u.stack)-1], nil
}

// popMark returns the values pushed since the last MARK and drops them.
func (u *unpickler) popMark() ([]any, error) {
	if len(u.marks) == 0 {
		return nil, u.errorf("no MARK on the stack")
	}
	m := u.marks[len(u.marks)-1]
	u.marks = u.marks[:len(u.marks)-1]
	items := append([]any(nil), u.stack[m:]...)
	u.stack = u.stack[:m]
	return items, nil
}

// popItems pops the items of an APPEND(S) or SETITEM(S): n of them for
// the single form, else back to the mark; it returns them and the
// container under them.
func (u *unpickler) popItems(single bool, n int) (items []any, container any, err error) {
	if single {
		items, err = u.popN(n)
	} else {
		items, err = u.popMark()
	}
	if err != nil {
		return nil, nil, err
	}
	container, err = u.top()
	return items, container, err
}

func (u *unpickler) popN(n int) ([]any, error) {
	out := make([]any, n)
	for i := n - 1; i >= 0; i-- {
		v, err := u.pop()
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (u *unpickler) text(b []byte, what string) (string, error) {
	if !utf8.Valid(b) {
		return "", u.errorf("%s is not valid UTF-8", what)
	}
	return string(b), nil
}

// long decodes LONG1/LONG4 bytes: little-endian two's complement.
func long(b []byte) any {
	if len(b) > 8 {
		return &pyBigInt{le: b}
	}
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	if n := len(b); n > 0 && n < 8 && b[n-1]&0x80 != 0 {
		v |= math.MaxUint64 << (8 * n) // sign-extend
	}
	return int64(v)
}

func (u *unpickler) run() (any, error) {
	for {
		u.op = u.pos
		if u.pos >= len(u.data) {
			return nil, u.errorf("truncated: no STOP opcode")
		}
		op := u.data[u.pos]
		u.pos++
		if err := u.step(op); err != nil {
			if err == errStop {
				v, err := u.pop()
				if err != nil {
					return nil, err
				}
				return v, nil
			}
			return nil, err
		}
	}
}

var errStop = errors.New("STOP")

func (u *unpickler) step(op byte) error {
	switch op {
	case 0x80: // PROTO
		b, err := u.take(1, "PROTO")
		if err != nil {
			return err
		}
		if b[0] < 2 || b[0] > 5 {
			return u.errorf("protocol %d is not supported (want 2 to 5)", b[0])
		}
	case 0x95: // FRAME: a length hint only
		n, err := u.uint(8, "FRAME")
		if err != nil {
			return err
		}
		if n > uint64(len(u.data)-u.pos) {
			return u.errorf("FRAME of %d bytes past the end", n)
		}
	case '.': // STOP
		return errStop
	case '(': // MARK
		if len(u.marks) >= maxPickleNesting {
			return u.errorf("MARKs nested deeper than %d", maxPickleNesting)
		}
		u.marks = append(u.marks, len(u.stack))
	case '0': // POP
		_, err := u.pop()
		return err
	case '1': // POP_MARK
		_, err := u.popMark()
		return err
	case '2': // DUP
		v, err := u.top()
		if err != nil {
			return err
		}
		u.push(v)

	case 'N':
		u.push(nil)
	case 0x88:
		u.push(true)
	case 0x89:
		u.push(false)
	case 'J', 'K', 'M': // BININT, BININT1, BININT2
		n := 4
		switch op {
		case 'K':
			n = 1
		case 'M':
			n = 2
		}
		v, err := u.uint(n, "BININT")
		if err != nil {
			return err
		}
		if op == 'J' {
			u.push(int64(int32(uint32(v))))
		} else {
			u.push(int64(v))
		}
	case 0x8a, 0x8b: // LONG1, LONG4
		width := 1
		if op == 0x8b {
			width = 4
		}
		n, err := u.uint(width, "LONG length")
		if err != nil {
			return err
		}
		if op == 0x8b && int32(uint32(n)) < 0 {
			return u.errorf("LONG4 with negative length")
		}
		b, err := u.take(n, "LONG")
		if err != nil {
			return err
		}
		u.push(long(b))
	case 'G': // BINFLOAT, big-endian
		b, err := u.take(8, "BINFLOAT")
		if err != nil {
			return err
		}
		u.push(math.Float64frombits(binary.BigEndian.Uint64(b)))

	case 'X', 0x8c, 0x8d, 'T', 'U', 'B', 'C', 0x8e: // strings and bytes
		width := 4
		switch op {
		case 0x8c, 'U', 'C':
			width = 1
		case 0x8d, 0x8e:
			width = 8
		}
		n, err := u.uint(width, "string length")
		if err != nil {
			return err
		}
		if op == 'T' && int32(uint32(n)) < 0 {
			return u.errorf("BINSTRING with negative length")
		}
		b, err := u.take(n, "string")
		if err != nil {
			return err
		}
		switch op {
		case 'B', 'C', 0x8e:
			u.push(append([]byte(nil), b...))
		default:
			s, err := u.text(b, "string")
			if err != nil {
				return err
			}
			u.push(s)
		}

	case ')':
		u.push(pyTuple{})
	case 't': // TUPLE
		items, err := u.popMark()
		if err != nil {
			return err
		}
		u.push(pyTuple(items))
	case 0x85, 0x86, 0x87: // TUPLE1..3
		items, err := u.popN(int(op - 0x84))
		if err != nil {
			return err
		}
		u.push(pyTuple(items))
	case ']':
		u.push(&pyList{})
	case 'l': // LIST
		items, err := u.popMark()
		if err != nil {
			return err
		}
		u.push(&pyList{items: items})
	case 'a', 'e': // APPEND, APPENDS
		items, t, err := u.popItems(op == 'a', 1)
		if err != nil {
			return err
		}
		l, ok := t.(*pyList)
		if !ok {
			return u.errorf("APPEND to a %s", pyTypeName(t))
		}
		l.items = append(l.items, items...)
	case '}':
		u.push(newDict(false))
	case 'd': // DICT
		items, err := u.popMark()
		if err != nil {
			return err
		}
		d := newDict(false)
		if err := u.setItems(d, items); err != nil {
			return err
		}
		u.push(d)
	case 's', 'u': // SETITEM, SETITEMS
		items, t, err := u.popItems(op == 's', 2)
		if err != nil {
			return err
		}
		d, ok := t.(*pyDict)
		if !ok {
			return u.errorf("SETITEM on a %s", pyTypeName(t))
		}
		return u.setItems(d, items)

	case 'q', 'r', 0x94: // BINPUT, LONG_BINPUT, MEMOIZE
		var idx uint64
		var err error
		switch op {
		case 'q':
			idx, err = u.uint(1, "BINPUT")
		case 'r':
			idx, err = u.uint(4, "LONG_BINPUT")
		default:
			idx = uint64(len(u.memo))
		}
		if err != nil {
			return err
		}
		v, err := u.top()
		if err != nil {
			return err
		}
		u.memo[idx] = v
	case 'h', 'j': // BINGET, LONG_BINGET
		width := 1
		if op == 'j' {
			width = 4
		}
		idx, err := u.uint(width, "BINGET")
		if err != nil {
			return err
		}
		v, ok := u.memo[idx]
		if !ok {
			return u.errorf("memo index %d was never stored", idx)
		}
		u.push(v)

	case 'c': // GLOBAL
		module, err := u.line("GLOBAL module")
		if err != nil {
			return err
		}
		name, err := u.line("GLOBAL name")
		if err != nil {
			return err
		}
		return u.global(module, name)
	case 0x93: // STACK_GLOBAL
		items, err := u.popN(2)
		if err != nil {
			return err
		}
		module, ok1 := items[0].(string)
		name, ok2 := items[1].(string)
		if !ok1 || !ok2 {
			return u.errorf("STACK_GLOBAL of a %s and a %s, want two strings", pyTypeName(items[0]), pyTypeName(items[1]))
		}
		return u.global(module, name)
	case 'Q': // BINPERSID
		pid, err := u.pop()
		if err != nil {
			return err
		}
		if u.hooks.persistentLoad == nil {
			return u.errorf("persistent id where none is expected")
		}
		v, err := u.hooks.persistentLoad(pid)
		if err != nil {
			return u.errorf("persistent id: %w", err)
		}
		u.push(v)
	case 'R', 0x81: // REDUCE, NEWOBJ
		items, err := u.popN(2)
		if err != nil {
			return err
		}
		args, ok := items[1].(pyTuple)
		if !ok {
			return u.errorf("arguments are a %s, want a tuple", pyTypeName(items[1]))
		}
		if u.hooks.reduce == nil {
			return u.errorf("call of a %s is not allowed", pyTypeName(items[0]))
		}
		v, err := u.hooks.reduce(items[0], args)
		if err != nil {
			return u.errorf("%w", err)
		}
		u.push(v)
	case 'b': // BUILD
		state, err := u.pop()
		if err != nil {
			return err
		}
		obj, err := u.top()
		if err != nil {
			return err
		}
		if u.hooks.build == nil {
			return u.errorf("BUILD of a %s is not allowed", pyTypeName(obj))
		}
		if err := u.hooks.build(obj, state); err != nil {
			return u.errorf("%w", err)
		}
	default:
		return u.errorf("opcode 0x%02x is not supported", op)
	}
	return nil
}

func (u *unpickler) setItems(d *pyDict, items []any) error {
	if len(items)%2 != 0 {
		return u.errorf("odd number of items for a dict")
	}
	for i := 0; i < len(items); i += 2 {
		if err := d.set(items[i], items[i+1]); err != nil {
			return u.errorf("%w", err)
		}
	}
	return nil
}

func (u *unpickler) global(module, name string) error {
	if u.hooks.global == nil {
		return fmt.Errorf("global %s %w", globalName(module, name), ErrGlobalNotAllowed)
	}
	v, err := u.hooks.global(module, name)
	if err != nil {
		return err
	}
	u.push(v)
	return nil
}

// pyTypeName names a value's Python type for errors, without printing the
// value (which may be large or self-referencing).
func pyTypeName(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case bool:
		return "bool"
	case int64, *pyBigInt:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []byte:
		return "bytes"
	case pyTuple:
		return "tuple"
	case *pyList:
		return "list"
	case *pyDict:
		if v.ordered {
			return "OrderedDict"
		}
		return "dict"
	case interface{ pyType() string }:
		return v.pyType()
	}
	return fmt.Sprintf("%T", v)
}
