// Package fuzzshmgo holds planted bugs for fuzzshm-go's tests: each is
// reached only through a chain of byte comparisons, so coverage guidance
// finds it and blind mutation does not.
package fuzzshmgo

import (
	"os"
	"time"
)

// Magic panics on inputs that start with "FUZZ".
func Magic(b []byte) {
	if len(b) >= 4 && b[0] == 'F' {
		if b[1] == 'U' {
			if b[2] == 'Z' {
				if b[3] == 'Z' {
					panic("magic found")
				}
			}
		}
	}
}

// Pair reports true on a string starting with "ok" and a number below -50.
func Pair(s string, n int) bool {
	if len(s) >= 2 && s[0] == 'o' {
		if s[1] == 'k' {
			if n < -50 {
				return true
			}
		}
	}
	return false
}

// Exit ends the process on inputs that start with "EX".
func Exit(b []byte) {
	if len(b) >= 2 && b[0] == 'E' {
		if b[1] == 'X' {
			os.Exit(3)
		}
	}
}

// Hang sleeps for an hour on inputs that start with "H!".
func Hang(b []byte) {
	if len(b) >= 2 && b[0] == 'H' {
		if b[1] == '!' {
			time.Sleep(time.Hour)
		}
	}
}

// Never has branches and no bug.
func Never(b []byte) int {
	n := 0
	for _, c := range b {
		if c == 'a' {
			n++
		} else if c > 200 {
			n += 2
		}
	}
	return n
}
