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
//	shmbench handoff SIZE SLOT REGIONS
//	                              a batch: setValue of SIZE bytes into each
//	                              of REGIONS regions in turn (descriptors 4,
//	                              5, ...), each handed to the harness's
//	                              reader through the control page
//	                              (descriptor 3), as slot SLOT, SLOT+1, ...,
//	                              and waited for
//
// It never outlives the harness: it exits at the end of its standard input,
// even in the middle of a batch (the harness also has it killed when it
// dies, PR_SET_PDEATHSIG), and it leaves no file: the handoff's memory is
// the harness's memfds, and setvalue's files lose their names as soon as
// they are mapped. Every wait has a bound (patience, as the harness's
// benches/figures/bounded.rs), past which it fails naming what it waited for.
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

// mapInherited maps size bytes of the file open as descriptor fd, shared.
func mapInherited(fd int, size int) *sharedMem {
	f := os.NewFile(uintptr(fd), "inherited-"+strconv.Itoa(fd))
	region, err := syscall.Mmap(fd, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_FILE|syscall.MAP_SHARED)
	check(err)
	return &sharedMem{f: f, region: region}
}

// patience is how long any one wait may last, as the harness's BOUND.
const patience = 60 * time.Second

// spinsPerLook: how many turns of a spin pass between two looks at the
// clock, as the harness's SPINS_PER_LOOK: a wait that ends in time never
// reads it.
const spinsPerLook = 1 << 16

// fail says what went wrong and exits; nothing is left to remove.
func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "shmbench: "+format+"\n", args...)
	os.Exit(1)
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
			// Go's fuzzer keeps the name until Close; writing the file
			// does not need it, and without it nothing is left behind.
			check(os.Remove(regions[i].f.Name()))
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
		control := mapInherited(3, 4096)
		word := func(at int) *uint64 { return (*uint64)(unsafe.Pointer(&control.region[at])) }
		sequence, request, done := word(0), word(64), word(128)
		slot, err := strconv.ParseUint(os.Args[3], 10, 8)
		check(err)
		count, err := strconv.Atoi(os.Args[4])
		check(err)
		var regions []*sharedMem
		for i := 0; i < count; i++ {
			regions = append(regions, mapInherited(4+i, headerSize+n))
		}
		input := newInput(n)
		next := 0
		run = func(times int) {
			for i := 0; i < times; i++ {
				regions[next].setValue(input)
				r := atomic.AddUint64(sequence, 1)<<8 | (slot + uint64(next))
				atomic.StoreUint64(request, r)
				var since time.Time
				for spins := 1; atomic.LoadUint64(done) != r; spins++ {
					if spins%spinsPerLook == 0 {
						if since.IsZero() {
							since = time.Now()
						} else if time.Since(since) > patience {
							fail("waited over %v for the handoff's reader to serve request %#x", patience, r)
						}
					}
				}
				next = (next + 1) % len(regions)
			}
		}
	default:
		check(fmt.Errorf("unknown figure %q", os.Args[1]))
	}
	// The batch sizes, read by a goroutine of their own so that the end of
	// input ends the process even in the middle of a batch.
	batches := make(chan int)
	go func() {
		lines := bufio.NewScanner(os.Stdin)
		for lines.Scan() {
			batch, err := strconv.Atoi(lines.Text())
			check(err)
			batches <- batch
		}
		check(lines.Err())
		os.Exit(0)
	}()
	fmt.Println("ready")
	for {
		var batch int
		select {
		case batch = <-batches:
		case <-time.After(patience):
			fail("waited over %v for the harness to ask for a batch", patience)
		}
		run(1) // one untimed, as the Rust harness does before each batch
		start := time.Now()
		run(batch)
		fmt.Println(float64(time.Since(start).Nanoseconds()) / float64(batch))
	}
}
