package tokenize

import "encoding/binary"

// pieceTable is a read-only string -> id hash table for WordPiece lookups.
// A Go map[string]int32 costs several dependent cache misses per lookup on a
// 30k-entry vocabulary (control group, key header, key bytes scattered over
// the heap). Here a slot holds the first 8 bytes of its key inline, so a
// lookup of a key of up to 8 bytes (most pieces) reads one 16-byte slot,
// found by linear probing at load <= 1/2; longer keys compare their tail in
// one contiguous arena.
type pieceTable struct {
	slots  []pieceSlot
	mask   uint64
	arena  string // key bytes after the 8th, of all keys
	maxLen int    // longest key, in bytes
}

// pieceSlot: meta packs id (24 bits) | length (16 bits) | arena offset of
// the key's tail (24 bits); meta 0 is an empty slot (keys are non-empty).
type pieceSlot struct {
	head uint64 // first 8 bytes of the key, little endian, zero padded
	meta uint64
}

const (
	metaOffBits = 24
	metaLenBits = 16
	metaIDBits  = 24
)

// pieceHash returns the inline head of a key and its hash.
func pieceHash(s []byte) (head, h uint64) {
	n := len(s)
	if n >= 8 {
		head = binary.LittleEndian.Uint64(s)
	} else {
		for i := n - 1; i >= 0; i-- {
			head = head<<8 | uint64(s[i])
		}
	}
	h = head ^ uint64(n)*0x9e3779b97f4a7c15
	for i := 8; i < n; i++ {
		h = (h ^ uint64(s[i])) * 0x100000001b3
	}
	h ^= h >> 31
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 29
	return head, h
}

// newPieceTable builds the table from distinct keys and their ids (< 1<<24).
// Empty keys are never looked up and are left out, and so are keys that do
// not fit the packing (longer than 64 KiB, or a tail arena over 16 MiB);
// Load rejects vocabularies with such keys.
func newPieceTable(keys []string, ids []int32) (*pieceTable, bool) {
	n, tails := 0, 0
	for _, k := range keys {
		if k != "" {
			n++
			tails += max(len(k)-8, 0)
		}
	}
	size := 16
	for size < 2*n {
		size *= 2
	}
	t := &pieceTable{slots: make([]pieceSlot, size), mask: uint64(size - 1)}
	arena := make([]byte, 0, tails)
	for i, k := range keys {
		if k == "" {
			continue
		}
		if len(k) >= 1<<metaLenBits || len(arena)+len(k) > 1<<metaOffBits {
			return nil, false
		}
		t.maxLen = max(t.maxLen, len(k))
		head, h := pieceHash([]byte(k))
		meta := uint64(ids[i])<<(metaOffBits+metaLenBits) | uint64(len(k))<<metaOffBits | uint64(len(arena))
		if len(k) > 8 {
			arena = append(arena, k[8:]...)
		}
		for j := h & t.mask; ; j = (j + 1) & t.mask {
			if t.slots[j].meta == 0 {
				t.slots[j] = pieceSlot{head, meta}
				break
			}
		}
	}
	t.arena = string(arena)
	return t, true
}

// lookup returns the id of key, or -1.
func (t *pieceTable) lookup(key []byte) int32 {
	if len(key) > t.maxLen || len(key) == 0 {
		return -1
	}
	head, h := pieceHash(key)
	for j := h & t.mask; ; j = (j + 1) & t.mask {
		s := &t.slots[j]
		if s.meta == 0 {
			return -1
		}
		if s.head != head || int(s.meta>>metaOffBits)&(1<<metaLenBits-1) != len(key) {
			continue
		}
		if len(key) > 8 {
			off := int(s.meta & (1<<metaOffBits - 1))
			if t.arena[off:off+len(key)-8] != string(key[8:]) {
				continue
			}
		}
		return int32(s.meta >> (metaOffBits + metaLenBits))
	}
}
