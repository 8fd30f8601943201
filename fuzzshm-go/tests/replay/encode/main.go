// Prints, for each value read on stdin, the corpus-file line Go's fuzzing
// encoder writes for it, restated with Go's public fmt and strconv (the
// rules of internal/fuzz's marshalCorpusFile): the reference that
// tests/replay.rs compares fuzzshm-go's encoder with, per toolchain.
//
// Input lines: "b xHEX" ([]byte), "s xHEX" (string), "c N" (byte),
// "r N" (rune), "f HEX" (float32 bits), "d HEX" (float64 bits),
// "i TYPE N" (int types), "u TYPE N" (uint types).
package main

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"
)

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		f := strings.Fields(in.Text())
		switch f[0] {
		case "b":
			b, _ := hex.DecodeString(strings.TrimPrefix(f[1], "x"))
			fmt.Fprintf(out, "[]byte(%q)\n", b)
		case "s":
			b, _ := hex.DecodeString(strings.TrimPrefix(f[1], "x"))
			fmt.Fprintf(out, "string(%q)\n", string(b))
		case "c":
			n, _ := strconv.ParseUint(f[1], 10, 8)
			fmt.Fprintf(out, "byte(%q)\n", byte(n))
		case "r":
			n, _ := strconv.ParseInt(f[1], 10, 32)
			if r := rune(n); utf8.ValidRune(r) {
				fmt.Fprintf(out, "rune(%q)\n", r)
			} else {
				fmt.Fprintf(out, "int32(%v)\n", r)
			}
		case "f":
			n, _ := strconv.ParseUint(f[1], 16, 32)
			v := math.Float32frombits(uint32(n))
			if math.IsNaN(float64(v)) && math.Float32bits(v) != math.Float32bits(float32(math.NaN())) {
				fmt.Fprintf(out, "math.Float32frombits(0x%x)\n", math.Float32bits(v))
			} else {
				fmt.Fprintf(out, "%T(%v)\n", v, v)
			}
		case "d":
			n, _ := strconv.ParseUint(f[1], 16, 64)
			v := math.Float64frombits(n)
			if math.IsNaN(v) && math.Float64bits(v) != math.Float64bits(math.NaN()) {
				fmt.Fprintf(out, "math.Float64frombits(0x%x)\n", math.Float64bits(v))
			} else {
				fmt.Fprintf(out, "%T(%v)\n", v, v)
			}
		case "i":
			n, _ := strconv.ParseInt(f[2], 10, 64)
			fmt.Fprintf(out, "%s(%v)\n", f[1], n)
		case "u":
			n, _ := strconv.ParseUint(f[2], 10, 64)
			fmt.Fprintf(out, "%s(%v)\n", f[1], n)
		default:
			fmt.Fprintf(out, "bad input %q\n", f[0])
		}
	}
}
