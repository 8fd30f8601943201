package fuzzshmgo

import "testing"

func FuzzMagic(f *testing.F) {
	f.Add([]byte("seed"))
	f.Fuzz(func(t *testing.T, b []byte) { Magic(b) })
}

func FuzzPair(f *testing.F) {
	f.Add("hello", 5)
	f.Fuzz(func(t *testing.T, s string, n int) {
		if Pair(s, n) {
			t.Fatalf("pair found: %q %d", s, n)
		}
	})
}

func FuzzExit(f *testing.F) {
	f.Add([]byte("seed"))
	f.Fuzz(func(t *testing.T, b []byte) { Exit(b) })
}

func FuzzHang(f *testing.F) {
	f.Add([]byte("seed"))
	f.Fuzz(func(t *testing.T, b []byte) { Hang(b) })
}

func FuzzNever(f *testing.F) {
	f.Add([]byte("seed"))
	f.Fuzz(func(t *testing.T, b []byte) { Never(b) })
}

// FuzzNeverTwin makes -fuzz=FuzzNever ambiguous unless anchored.
func FuzzNeverTwin(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) { Never(b) })
}
