// The Go side of the layout tests: the same struct as Go's sharedMemHeader
// (internal/fuzz/mem.go), laid out by Go's own compiler.
//
//	header layout         print "name offset" lines and the size
//	header write FILE     map FILE and fill the header and value the way Go's
//	                      fuzzer does: through a *sharedMemHeader cast onto
//	                      the mapping
//	header read FILE      map FILE and print the header fields and the value
package main

import (
	"fmt"
	"os"
	"syscall"
	"unsafe"
)

type sharedMemHeader struct {
	count     int64
	valueLen  int
	randState uint64
	randInc   uint64
	rawInMem  bool
}

const headerSize = int(unsafe.Sizeof(sharedMemHeader{}))

func mapFile(path string) []byte {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	check(err)
	fi, err := f.Stat()
	check(err)
	region, err := syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	check(err)
	return region
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func main() {
	var h sharedMemHeader
	switch os.Args[1] {
	case "layout":
		fmt.Println("count", unsafe.Offsetof(h.count))
		fmt.Println("valueLen", unsafe.Offsetof(h.valueLen))
		fmt.Println("randState", unsafe.Offsetof(h.randState))
		fmt.Println("randInc", unsafe.Offsetof(h.randInc))
		fmt.Println("rawInMem", unsafe.Offsetof(h.rawInMem))
		fmt.Println("size", unsafe.Sizeof(h))
	case "write":
		region := mapFile(os.Args[2])
		hdr := (*sharedMemHeader)(unsafe.Pointer(&region[0]))
		value := []byte("written by Go")
		hdr.count = -7
		hdr.valueLen = len(value)
		hdr.randState = 0x0123456789abcdef
		hdr.randInc = 0xfedcba9876543211
		hdr.rawInMem = true
		copy(region[headerSize:], value)
		check(syscall.Munmap(region))
	case "read":
		region := mapFile(os.Args[2])
		hdr := (*sharedMemHeader)(unsafe.Pointer(&region[0]))
		fmt.Println("count", hdr.count)
		fmt.Println("valueLen", hdr.valueLen)
		fmt.Println("randState", hdr.randState)
		fmt.Println("randInc", hdr.randInc)
		fmt.Println("rawInMem", hdr.rawInMem)
		fmt.Printf("value %q\n", region[headerSize:headerSize+hdr.valueLen])
	}
}
