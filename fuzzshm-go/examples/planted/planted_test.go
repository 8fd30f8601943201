package planted

import "testing"

func FuzzParse(f *testing.F) {
	f.Add([]byte("hello, fuzzer"))
	f.Fuzz(func(t *testing.T, b []byte) {
		// The fuzzer's slice may have room past its length; a file's has
		// none. Cap it so reading past the input panics in both.
		Parse(b[:len(b):len(b)])
	})
}

func FuzzRepeat(f *testing.F) {
	f.Add("hello", 3)
	f.Fuzz(func(t *testing.T, name string, count int) {
		if got := Repeat(name, count); len(got) > 8*len(name) {
			t.Fatalf("too long: %d", len(got))
		}
	})
}
