// Fuzz targets that record every input they receive, for the black-box
// check of fuzzshm-go's mutator replay (tests/replay.rs): one line per
// execution, appended to the file named by $REPLAY_LOG.
package replay

import (
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"strings"
	"sync"
	"testing"
)

var (
	logOnce sync.Once
	logFile *os.File
)

// record appends one line: []byte and string as "x" + hex, bool as
// true/false, floats as their bits in hex, other numbers in decimal.
func record(args ...any) {
	logOnce.Do(func() {
		path := os.Getenv("REPLAY_LOG")
		if path == "" {
			return
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			panic(err)
		}
		logFile = f
	})
	if logFile == nil {
		return
	}
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		switch v := a.(type) {
		case []byte:
			b.WriteString("x" + hex.EncodeToString(v))
		case string:
			b.WriteString("x" + hex.EncodeToString([]byte(v)))
		case float32:
			fmt.Fprintf(&b, "%x", math.Float32bits(v))
		case float64:
			fmt.Fprintf(&b, "%x", math.Float64bits(v))
		default:
			fmt.Fprint(&b, v)
		}
	}
	b.WriteByte('\n')
	if _, err := logFile.WriteString(b.String()); err != nil {
		panic(err)
	}
}

// FuzzAll takes every fuzzable type, and a second []byte.
func FuzzAll(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte, s string, bo bool, by byte, r rune, i int, i8 int8, i16 int16, i32 int32, i64 int64, u uint, u8 uint8, u16 uint16, u32 uint32, u64 uint64, f32 float32, f64 float64, b2 []byte) {
		record(b, s, bo, by, r, i, i8, i16, i32, i64, u, u8, u16, u32, u64, f32, f64, b2)
	})
}

// FuzzTwoBytes: two []byte arguments share the mutator's scratch buffer.
func FuzzTwoBytes(f *testing.F) {
	f.Fuzz(func(t *testing.T, a, b []byte) {
		record(a, b)
	})
}

// FuzzBytesStringBytes: a string mutation rewrites the shared buffer too.
func FuzzBytesStringBytes(f *testing.F) {
	f.Fuzz(func(t *testing.T, a []byte, s string, b []byte) {
		record(a, s, b)
	})
}
