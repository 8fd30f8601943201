// Prints strconv.IsPrint as a list of inclusive code point ranges, in Rust.
package main

import (
	"fmt"
	"strconv"
)

func main() {
	start := -1
	n := 0
	for r := 0; r <= 0x110000; r++ {
		p := r <= 0x10FFFF && strconv.IsPrint(rune(r))
		if p && start < 0 {
			start = r
		}
		if !p && start >= 0 {
			if n%4 == 0 {
				fmt.Print("\n   ")
			}
			fmt.Printf(" (0x%x, 0x%x),", start, r-1)
			n++
			start = -1
		}
	}
	fmt.Println()
}
