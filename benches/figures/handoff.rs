//! The handoff figure: what a worker waits for. The coordinator writes a
//! value, then a reader pinned to another CPU reads every byte of it, as a
//! worker does when it runs the input; the time is the write, the signal,
//! the read and the answer together. Written through the cache, the lines
//! sit dirty in the writer's core and the reader pulls them across one by
//! one; streamed past the cache, they go to memory, where the reader's
//! prefetchers fetch them at full speed. So a copy that wins the write
//! alone can lose the handoff, and the handoff decides (a value is written
//! to be read by the peer).
//!
//! Every candidate, Go's `setValue` included, is followed by the same
//! reader: one thread of this process, pinned to the other CPU, that maps
//! every candidate's regions (Go's files too) and serves the requests of a
//! control page the Go process maps as well. The same figure with reader
//! and writer on one CPU (the read right after the write, in the writer's
//! thread) shows what the choice costs when the worker shares the CPU.

use std::hint::black_box;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use fuzzshm::{SharedMem, HEADER_SIZE};

use crate::baselines::{memfd, memmap2_mapping, plain_write, stream_copy, Memmap2Mapping};
use crate::bounded::Patience;
use crate::figures::{hugepage_input, Turns, TURNS};
use crate::stats::{repeat, Bench, Candidate, OneCpu, Target};
use crate::{human, MIB};

/// The requests between a writer and the reader, each word on its own
/// cache line, in a memfd that the Go side maps too (`benches/go`, at the
/// same offsets, as its descriptor 3).
#[repr(C)]
struct Control {
    /// Numbers the requests, so that each differs from the one before
    /// whichever writer makes it.
    sequence: Line,
    /// `sequence << 8 | slot`: read the value of region `slot`.
    request: Line,
    /// The request last served.
    done: Line,
}

#[repr(C, align(64))]
struct Line(AtomicU64);

// A request carries its slot in 8 bits: four kinds of Rust regions and
// Go's, `TURNS` each.
const _: () = assert!(5 * TURNS <= 256);

/// The request that ends the reader.
const STOP: u64 = u64::MAX;

/// The size of the control page.
const CONTROL_SIZE: usize = 4096;

/// The control page, mapped from a memfd so that the Go side can map it
/// (it inherits the descriptor) and nothing has a name to leave behind.
/// The map is declared first so that it is dropped before the memfd.
struct ControlPage {
    map: memmap2::MmapRaw,
    fd: OwnedFd,
}

impl ControlPage {
    fn new() -> ControlPage {
        let fd = memfd("fuzzshm-figures-control", CONTROL_SIZE);
        let map = memmap2::MmapRaw::map_raw(fd.as_raw_fd()).unwrap();
        ControlPage { map, fd }
    }

    fn control(&self) -> &Control {
        const _: () = assert!(std::mem::size_of::<Control>() <= CONTROL_SIZE);
        // SAFETY: the mapping is page-aligned, writable (`as_mut_ptr`), at
        // least `Control`'s size, lives as long as `self`, and zeroed bytes
        // are valid atomics; the Go side maps it too, and both sides use
        // it only through atomics.
        unsafe { &*self.map.as_mut_ptr().cast::<Control>() }
    }
}

/// Ends the reader when dropped: after the figure, or when a panic ends it
/// early, so that the scope's join does not wait for a reader nobody
/// will ask again.
struct StopReader<'a>(&'a Control);

impl Drop for StopReader<'_> {
    fn drop(&mut self) {
        self.0.request.0.store(STOP, Ordering::Release);
    }
}

/// Hands region `slot`'s value to the reader and waits until it has read
/// it. No `spin_loop` hint in the wait, as in the Go side's loop, and the
/// same bound.
#[inline(always)]
fn hand_off(control: &Control, slot: usize) {
    let request = (control.sequence.0.fetch_add(1, Ordering::Relaxed) + 1) << 8 | slot as u64;
    control.request.0.store(request, Ordering::Release);
    let mut patience = Patience::new("the handoff's reader to serve a request");
    while control.done.0.load(Ordering::Acquire) != request {
        patience.spun();
    }
}

/// The reader: serves requests until [`STOP`]. A request is new when it is
/// not the one last served (`done`), so a request made before the reader
/// started (the Go side's first, when its process was quicker than this
/// thread) is served too: each writer waits for `done` before it asks
/// again, so at most one request is outstanding.
fn serve(control: &Control, slots: &[usize]) {
    loop {
        let last = control.done.0.load(Ordering::Relaxed);
        let mut patience = Patience::new("a request on the handoff's control page (the reader)");
        let request = loop {
            let request = control.request.0.load(Ordering::Acquire);
            if request != last {
                break request;
            }
            patience.spun();
        };
        if request == STOP {
            return;
        }
        // SAFETY: every slot is the base of a live region (the figure
        // joins this thread before it drops them), whose writer stored the
        // value before the request (released above, acquired here) and
        // waits for `done` before it writes again.
        black_box(unsafe { read_value(slots[(request & 0xff) as usize]) });
        control.done.0.store(request, Ordering::Release);
    }
}

/// Reads every byte of the value at `base` as a worker's target would:
/// `valueLen`, then the bytes, folded into a sum so that none is skipped.
///
/// # Safety
///
/// `base` is a live region whose `valueLen` fits it, and nobody writes it
/// meanwhile.
#[inline(never)]
unsafe fn read_value(base: usize) -> u64 {
    // SAFETY: `valueLen`, at offset 8 of the live region, aligned for a
    // `usize`, only ever accessed atomically.
    let len = unsafe { &*((base + 8) as *const AtomicUsize) }.load(Ordering::Relaxed);
    // SAFETY: the value area follows the header; `valueLen` fits the
    // region, and nobody writes it meanwhile (the caller's contract).
    let value = unsafe { std::slice::from_raw_parts((base + HEADER_SIZE) as *const u8, len) };
    let words = value.chunks_exact(8);
    let rest = words.remainder().iter().map(|&b| u64::from(b)).sum::<u64>();
    words.fold(rest, |sum, word| {
        sum.wrapping_add(u64::from_le_bytes(word.try_into().unwrap()))
    })
}

/// `set_value` into the regions of `regions` in turn, each write followed
/// by `then(slot, base)`: the region's slot (`first_slot` plus its turn)
/// and its mapping.
fn set_value_then<'a>(
    regions: &'a mut Turns<SharedMem>,
    first_slot: usize,
    input: &'a [u8],
    then: impl Fn(usize, *mut u8) + 'a,
) -> Box<dyn FnMut(usize) + 'a> {
    repeat(move || {
        let (turn, mem) = regions.next_with_turn();
        mem.set_value(black_box(input)).unwrap();
        then(first_slot + turn, mem.as_mut_ptr());
    })
}

/// As [`set_value_then`], with [`plain_write`] and `copy` into plain
/// mappings.
fn plain_write_then<'a>(
    regions: &'a mut Turns<Memmap2Mapping>,
    first_slot: usize,
    input: &'a [u8],
    copy: impl Fn(&mut [u8], &[u8]) + 'a,
    then: impl Fn(usize, *mut u8) + 'a,
) -> Box<dyn FnMut(usize) + 'a> {
    repeat(move || {
        let (turn, mapping) = regions.next_with_turn();
        // SAFETY: the mapping holds a header and `input.len()` bytes, and
        // `&mut` keeps everything else in this process off it.
        unsafe { plain_write(mapping.base(), black_box(input), &copy) };
        then(first_slot + turn, mapping.base());
    })
}

impl Bench {
    /// The handoff of `size` bytes, with the reader on another CPU, then
    /// on the writer's.
    pub(crate) fn handoff(&self, size: usize) {
        let pinned = OneCpu::pin();
        let Some(reader_cpu) = pinned.other_core() else {
            if self.judged {
                println!("handoff {}: one core only, not measured", human(size));
            }
            return;
        };
        let input = hugepage_input(size);
        let input = &input[..];
        let control_page = ControlPage::new();
        let control = control_page.control();
        // Every region is a memfd, Go's too: the same kind of memory for
        // every candidate, and no name to leave behind.
        let region = || SharedMem::memfd(size).unwrap();
        let mut fuzzshm = Turns::new(TURNS, region);
        let mut twin = Turns::new(TURNS, region);
        let plain = || memmap2_mapping(memfd("plain", HEADER_SIZE + size), size);
        let mut copied = Turns::new(TURNS, plain);
        let mut streamed = Turns::new(TURNS, plain);
        // Go's regions: memfds it inherits, which this side maps to read.
        let go_fds: Vec<OwnedFd> = (0..TURNS)
            .map(|_| memfd("go", HEADER_SIZE + size))
            .collect();
        let go_maps: Vec<memmap2::Mmap> = go_fds
            .iter()
            // SAFETY: the memfds are private to this figure; the Go side
            // writes them only between the reader's requests.
            .map(|fd| unsafe { memmap2::Mmap::map(fd.as_raw_fd()) }.unwrap())
            .collect();
        // One slot per region, in this order: fuzzshm, plain copy,
        // streaming, A/A twin, then Go's.
        // The reader finds each region's base address at the slot a
        // request names.
        let mut slots: Vec<usize> = Vec::new();
        slots.extend(fuzzshm.items().map(|m| m.as_ptr() as usize));
        slots.extend(copied.items().map(|m| m.base() as usize));
        slots.extend(streamed.items().map(|m| m.base() as usize));
        slots.extend(twin.items().map(|m| m.as_ptr() as usize));
        slots.extend(go_maps.iter().map(|m| m.as_ptr() as usize));
        let go_first_slot = (4 * TURNS).to_string();
        let (size_arg, regions_arg) = (size.to_string(), TURNS.to_string());
        let go_args = ["handoff", &size_arg, &go_first_slot, &regions_arg];
        // The Go side's descriptors: 3 the control page, 4... its regions.
        let go_fd_list: Vec<BorrowedFd> = std::iter::once(control_page.fd.as_fd())
            .chain(go_fds.iter().map(AsFd::as_fd))
            .collect();

        let batch = self.batch((64 * MIB / size).clamp(2, 4000));
        let label = human(size);
        std::thread::scope(|scope| {
            let reader = scope.spawn(move || {
                OneCpu::pin_to(reader_cpu);
                serve(control, &slots);
            });
            let stop_reader = StopReader(control);
            let to_reader = |slot, _| hand_off(control, slot);
            let mut candidates: Vec<Candidate> = vec![
                (
                    "set_value",
                    set_value_then(&mut fuzzshm, 0, input, to_reader),
                ),
                (
                    "copy_from_slice",
                    plain_write_then(
                        &mut copied,
                        TURNS,
                        input,
                        <[u8]>::copy_from_slice,
                        to_reader,
                    ),
                ),
                (
                    "streaming copy",
                    plain_write_then(&mut streamed, 2 * TURNS, input, stream_copy, to_reader),
                ),
                (
                    "set_value, other regions",
                    set_value_then(&mut twin, 3 * TURNS, input, to_reader),
                ),
            ];
            let t = self.run_rounds(batch, &mut candidates, Some((&go_args, &go_fd_list)));
            let go = t.get(candidates.len()).map(Vec::as_slice);
            drop(candidates);
            drop(stop_reader);
            reader.join().unwrap();
            let better: Vec<f64> = t[1].iter().zip(&t[2]).map(|(c, s)| c.min(*s)).collect();
            self.row(
                &format!("handoff {label}: set_value vs better of copy, streaming"),
                &t[0],
                Some(&better),
                Target::AtMost(1.10),
            );
            self.row(
                &format!("handoff {label}: set_value vs copy_from_slice"),
                &t[0],
                Some(&t[1][..]),
                Target::Report,
            );
            self.row(
                &format!("handoff {label}: set_value vs streaming copy"),
                &t[0],
                Some(&t[2][..]),
                Target::Report,
            );
            let against_go = if size == 64 << 10 || size == 256 << 10 {
                Target::AtMost(0.6)
            } else {
                Target::AtMost(1.0)
            };
            self.row(
                &format!("handoff {label}: set_value vs Go setValue"),
                &t[0],
                go,
                against_go,
            );
            self.row(
                &format!("handoff {label}: set_value vs itself (A/A control)"),
                &t[0],
                Some(&t[3][..]),
                Target::Report,
            );
        });

        // The same on one CPU: the worker reads where the value was written.
        let read = |_, base: *mut u8| {
            // SAFETY: a live region, written just now with a valid length,
            // ours alone.
            black_box(unsafe { read_value(base as usize) });
        };
        let mut candidates: Vec<Candidate> = vec![
            ("set_value", set_value_then(&mut fuzzshm, 0, input, read)),
            (
                "copy_from_slice",
                plain_write_then(&mut copied, TURNS, input, <[u8]>::copy_from_slice, read),
            ),
            (
                "streaming copy",
                plain_write_then(&mut streamed, 2 * TURNS, input, stream_copy, read),
            ),
        ];
        let t = self.run_rounds(batch, &mut candidates, None);
        drop(candidates);
        self.row(
            &format!("handoff {label}, one CPU: set_value vs copy_from_slice"),
            &t[0],
            Some(&t[1][..]),
            Target::Report,
        );
        self.row(
            &format!("handoff {label}, one CPU: set_value vs streaming copy"),
            &t[0],
            Some(&t[2][..]),
            Target::Report,
        );
        drop(pinned);
    }
}
