// Go's side of benches/figures/: the same work as Go's fuzzer does in
// internal/fuzz (sharedMemTempFile + Close; setValue), written out here with
// the same system calls. It runs as long as the Rust harness measures one
// figure, like the Rust candidates do: set-up once, then for each batch size
// read from stdin one timed batch, answered with its ns per operation on
// stdout ("ready" first, once set up). So both sides time the same
// operation on long-lived state.
//
//	shmbench lifecycle CAPACITY   a batch: create+map+unmap+close+remove
//	shmbench setvalue  SIZE TURNS a batch: setValue of SIZE bytes, into TURNS
//	                              regions in turn
//	shmbench handoff SIZE CONTROL SLOT REGION...
//	                              a batch: setValue of SIZE bytes into each
//	                              REGION file in turn, each handed to the
//	                              harness's reader through the CONTROL file
//	                              (as slot SLOT, SLOT+1, ...) and waited for
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
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

// mapFile maps size bytes of an existing file, shared.
func mapFile(path string, size int) *sharedMem {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	check(err)
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

// newInput is the input both sides copy: byte i is i modulo 256.
func newInput(n int) []byte {
	input := make([]byte, n)
	for i := range input {
		input[i] = byte(i)
	}
	return input
}

// check panics on an error: unlike os.Exit, a panic runs the deferred
// closes, so no temp file is left behind.
func check(err error) {
	if err != nil {
		panic(err)
	}
}

func main() {
	n, err := strconv.Atoi(os.Args[2])
	check(err)
	// run does the operation `times` times in one loop, as the Rust
	// candidates do: only a batch pays the call through a func value.
	var run func(times int)
	switch os.Args[1] {
	case "lifecycle":
		run = func(times int) {
			for i := 0; i < times; i++ {
				tempFile(n).close()
			}
		}
	case "setvalue":
		// Several regions written in turn, as the Rust candidates do: where
		// one region's pages land in memory moves its speed by a few percent.
		turns, err := strconv.Atoi(os.Args[3])
		check(err)
		regions := make([]*sharedMem, turns)
		for i := range regions {
			regions[i] = tempFile(n)
			defer regions[i].close()
		}
		input := newInput(n)
		next := 0
		run = func(times int) {
			for i := 0; i < times; i++ {
				regions[next].setValue(input)
				next = (next + 1) % turns
			}
		}
	case "handoff":
		// The harness's control page (benches/figures/handoff.rs): the
		// sequence at offset 0, the request at 64, the one served at 128.
		control := mapFile(os.Args[3], 4096)
		defer control.f.Close()
		word := func(at int) *uint64 { return (*uint64)(unsafe.Pointer(&control.region[at])) }
		sequence, request, done := word(0), word(64), word(128)
		slot, err := strconv.ParseUint(os.Args[4], 10, 8)
		check(err)
		var regions []*sharedMem
		for _, path := range os.Args[5:] {
			region := mapFile(path, headerSize+n)
			defer region.f.Close()
			regions = append(regions, region)
		}
		input := newInput(n)
		next := 0
		run = func(times int) {
			for i := 0; i < times; i++ {
				regions[next].setValue(input)
				r := atomic.AddUint64(sequence, 1)<<8 | (slot + uint64(next))
				atomic.StoreUint64(request, r)
				for atomic.LoadUint64(done) != r {
				}
				next = (next + 1) % len(regions)
			}
		}
	default:
		check(fmt.Errorf("unknown figure %q", os.Args[1]))
	}
	fmt.Println("ready")
	batches := bufio.NewScanner(os.Stdin)
	for batches.Scan() {
		batch, err := strconv.Atoi(batches.Text())
		check(err)
		run(1) // one untimed, as the Rust harness does before each batch
		start := time.Now()
		run(batch)
		fmt.Println(float64(time.Since(start).Nanoseconds()) / float64(batch))
	}
	check(batches.Err())
}
