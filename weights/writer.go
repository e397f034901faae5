package weights

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
)

// WriteTensor is a tensor to write. DType is the stored dtype: F32, F16 or
// BF16 (the last two rounded from Data to nearest even).
type WriteTensor struct {
	Name, DType string
	Shape       []int
	Data        []float32
}

type headerEntry struct {
	DType       string  `json:"dtype"`
	Shape       []int   `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

// Write writes tensors and metadata (may be nil) as a safetensors file.
// Names must be non-empty, unique and not "__metadata__", and each shape must
// match len(Data).
func Write(w io.Writer, tensors []WriteTensor, metadata map[string]string) error {
	sorted := append([]WriteTensor(nil), tensors...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	header := make(map[string]any, len(sorted)+1)
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	var off int64
	for i, t := range sorted {
		switch {
		case t.Name == "" || t.Name == "__metadata__":
			return fmt.Errorf("weights: write: invalid tensor name %q", t.Name)
		case i > 0 && sorted[i-1].Name == t.Name:
			return fmt.Errorf("weights: write: duplicate tensor name %q", t.Name)
		case !isFloat(t.DType):
			return fmt.Errorf("weights: write: tensor %q: dtype %q: %w (want F32, F16 or BF16)", t.Name, t.DType, ErrUnsupportedDType)
		}
		n := 1
		for _, d := range t.Shape {
			if d < 0 || d > 0 && n > math.MaxInt/d {
				return fmt.Errorf("weights: write: tensor %q: invalid shape %v", t.Name, t.Shape)
			}
			n *= d
		}
		if n != len(t.Data) {
			return fmt.Errorf("weights: write: tensor %q: shape %v has %d elements, data has %d", t.Name, t.Shape, n, len(t.Data))
		}
		size := int64(n) * int64(dtypeSizes[t.DType])
		// A non-nil shape so that a scalar is written as [] rather than null.
		header[t.Name] = headerEntry{t.DType, append([]int{}, t.Shape...), []int64{off, off + size}}
		off += size
	}

	// encoding/json sorts map keys. HTML escaping is off only for readability.
	var hb bytes.Buffer
	enc := json.NewEncoder(&hb)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(header); err != nil {
		return fmt.Errorf("weights: write: %v", err)
	}
	hb.Truncate(hb.Len() - 1) // Encode's newline
	// Pad with spaces so the data region starts 8-byte aligned, as HF does.
	for hb.Len()%8 != 0 {
		hb.WriteByte(' ')
	}

	bw := bufio.NewWriter(w)
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(hb.Len()))
	bw.Write(lenBuf[:])
	bw.Write(hb.Bytes())
	var buf [4]byte
	for _, t := range sorted {
		for _, v := range t.Data {
			switch t.DType {
			case "F32":
				binary.LittleEndian.PutUint32(buf[:], math.Float32bits(v))
				bw.Write(buf[:4])
			case "F16":
				binary.LittleEndian.PutUint16(buf[:], f32ToF16(v))
				bw.Write(buf[:2])
			case "BF16":
				binary.LittleEndian.PutUint16(buf[:], f32ToBF16(v))
				bw.Write(buf[:2])
			}
		}
	}
	// bufio.Writer keeps the first error, so checking once here suffices.
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("weights: write: %v", err)
	}
	return nil
}

// WriteFile writes a safetensors file at path; on error the file is removed.
func WriteFile(path string, tensors []WriteTensor, metadata map[string]string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("weights: %v", err)
	}
	err = Write(f, tensors, metadata)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("weights: %v", cerr)
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}
