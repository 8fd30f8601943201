// Go's side of benches/figures.rs: the same work as Go's fuzzer does in
// internal/fuzz (sharedMemTempFile + Close; setValue), written out here with
// the same system calls, timed with the same method (median of samples of
// batches), so the Rust harness can put the numbers side by side.
//
//	shmbench lifecycle CAPACITY BATCH SAMPLES   ns per create+map+unmap+close+remove
//	shmbench setvalue  SIZE     BATCH SAMPLES   ns per setValue of SIZE bytes
package main

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"syscall"
	"time"
	"unsafe"
)

type sharedMemHeader struct {
	count     int64
	valueLen  int
	randState uint64
	randInc   uint64
	rawInMem  bool
}

type sharedMem struct {
	f      *os.File
	region []byte
}

const headerSize = int(unsafe.Sizeof(sharedMemHeader{}))

func tempFile(capacity int) *sharedMem {
	f, err := os.CreateTemp("", "fuzz-*")
	check(err)
	size := headerSize + capacity
	check(f.Truncate(int64(size)))
	region, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_FILE|syscall.MAP_SHARED)
	check(err)
	return &sharedMem{f: f, region: region}
}

func (m *sharedMem) close() {
	check(syscall.Munmap(m.region))
	check(m.f.Close())
	check(os.Remove(m.f.Name()))
}

// setValue as Go's: length first, then the copy into the full capacity.
func (m *sharedMem) setValue(b []byte) {
	h := (*sharedMemHeader)(unsafe.Pointer(&m.region[0]))
	v := m.region[headerSize:]
	if len(b) > len(v) {
		panic("value too large")
	}
	h.valueLen = len(b)
	copy(v, b)
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func median(samples []float64) float64 {
	sort.Float64s(samples)
	return samples[len(samples)/2]
}

func main() {
	n, _ := strconv.Atoi(os.Args[2])
	batch, _ := strconv.Atoi(os.Args[3])
	count, _ := strconv.Atoi(os.Args[4])
	samples := make([]float64, count)
	switch os.Args[1] {
	case "lifecycle":
		for s := range samples {
			start := time.Now()
			for i := 0; i < batch; i++ {
				tempFile(n).close()
			}
			samples[s] = float64(time.Since(start).Nanoseconds()) / float64(batch)
		}
	case "setvalue":
		m := tempFile(n)
		input := make([]byte, n)
		for i := range input {
			input[i] = byte(i)
		}
		m.setValue(input) // fault the pages in, as the Rust side does
		for s := range samples {
			start := time.Now()
			for i := 0; i < batch; i++ {
				m.setValue(input)
			}
			samples[s] = float64(time.Since(start).Nanoseconds()) / float64(batch)
		}
		m.close()
	}
	fmt.Println(median(samples))
}
