// Package planted is fuzzshm-go's demo: a tiny record format with two
// planted bugs that only coverage-guided fuzzing reaches quickly.
package planted

import (
	"errors"
	"strings"
)

// Record is a parsed "RECD" record.
type Record struct {
	Kind byte
	Body []byte
}

// Parse reads a record: the magic "RECD", a kind byte, a length byte and
// the body. Planted bug: the length check is off by one, so a body one
// byte shorter than its length slices out of range (a panic). The magic
// is checked a byte at a time, as a hand-written parser does: coverage
// guidance finds it byte by byte where blind mutation would not.
func Parse(b []byte) (Record, error) {
	if len(b) < 6 || b[0] != 'R' {
		return Record{}, errors.New("no magic")
	}
	if b[1] != 'E' {
		return Record{}, errors.New("no magic")
	}
	if b[2] != 'C' {
		return Record{}, errors.New("no magic")
	}
	if b[3] != 'D' {
		return Record{}, errors.New("no magic")
	}
	kind, n := b[4], int(b[5])
	if 6+n > len(b)+1 { // bug: should be 6+n > len(b)
		return Record{}, errors.New("short body")
	}
	return Record{Kind: kind, Body: b[6 : 6+n]}, nil
}

// Repeat returns name repeated count times, up to a limit. Planted bug:
// for names starting with "go" a negative count reaches strings.Repeat,
// which panics.
func Repeat(name string, count int) string {
	if count > 8 {
		count = 8
	}
	if strings.HasPrefix(name, "go") {
		return strings.Repeat(name, count) // bug: count may be negative
	}
	if count < 0 {
		return ""
	}
	return strings.Repeat(name, count)
}
