//! Go's fuzzing PRNG (`pcgRand` in `internal/fuzz/pcg.go`): PCG XSH RR
//! 64/32, bit for bit, so that a coordinator can replay the worker's draws
//! from the `randState` and `randInc` it leaves in shared memory.

/// The LCG multiplier of PCG (and of Go's `pcgRand`).
const MULTIPLIER: u64 = 6364136223846793005;

/// Go's `pcgRand`: a 64-bit LCG state and stream increment, 32-bit outputs.
///
/// Same in Go 1.19 and 1.27. Each worker process has exactly one, with
/// `inc` 3 (the first stream); its state is saved into the shared memory
/// header at the start of every chain of mutations.
///
/// ```
/// use fuzzshm_go::rand::Pcg;
/// let mut a = Pcg::from_state(0x853c49e6748fea9b, 3);
/// let mut b = a.clone();
/// assert_eq!(a.uint32(), b.uint32());
/// assert!(a.intn(10).unwrap() < 10);
/// assert_eq!(a.intn(0), Some(0)); // Go's intn(0) is 0, and still draws once
/// assert_ne!(a.state(), 0x853c49e6748fea9b);
/// assert_eq!(a.inc(), 3);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pcg {
    state: u64,
    inc: u64,
}

impl Pcg {
    /// `restore(randState, randInc)`: the generator exactly as the worker
    /// saved it.
    pub fn from_state(state: u64, inc: u64) -> Pcg {
        Pcg { state, inc }
    }

    /// A generator seeded as `newPcgRand` seeds one from `seed` (Go's clock
    /// in nanoseconds, or `GODEBUG=fuzzseed=N`) and the `k`-th stream of the
    /// process (1 for a worker's only mutator).
    pub fn seeded(seed: u64, k: u64) -> Pcg {
        let mut r = Pcg {
            state: seed,
            inc: k << 1 | 1,
        };
        r.step();
        r.state = r.state.wrapping_add(seed);
        r.step();
        r
    }

    /// The state to save (`randState`).
    pub fn state(&self) -> u64 {
        self.state
    }

    /// The stream increment to save (`randInc`).
    pub fn inc(&self) -> u64 {
        self.inc
    }

    fn step(&mut self) {
        self.state = self.state.wrapping_mul(MULTIPLIER).wrapping_add(self.inc);
    }

    /// `uint32()`: the output of the current state, then one step.
    pub fn uint32(&mut self) -> u32 {
        let x = self.state;
        self.step();
        ((((x >> 18) ^ x) >> 27) as u32).rotate_right((x >> 59) as u32)
    }

    /// `uint32n(n)`: uniform in `[0, n)` by Lemire's multiply-shift, drawing
    /// again while the low half falls under the rejection threshold. `n = 0`
    /// draws once and gives 0, as in Go.
    pub fn uint32n(&mut self, n: u32) -> u32 {
        let mut prod = u64::from(self.uint32()) * u64::from(n);
        if (prod as u32) < n {
            let thresh = n.wrapping_neg() % n;
            while (prod as u32) < thresh {
                prod = u64::from(self.uint32()) * u64::from(n);
            }
        }
        (prod >> 32) as u32
    }

    /// `intn(n)`: `uint32n(n)` for an `n` that fits 32 bits. `None` where Go
    /// panics ("large Intn"), drawing nothing.
    pub fn intn(&mut self, n: usize) -> Option<usize> {
        let n = u32::try_from(n).ok()?;
        Some(self.uint32n(n) as usize)
    }

    /// `bool()`: whether the next output is even.
    pub fn bool(&mut self) -> bool {
        self.uint32() & 1 == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uint32_is_pcg_xsh_rr_64_32() {
        // PCG's reference: pcg32_srandom_r(42, 54) then six pcg32_random_r
        // outputs (pcg-c-basic's demo prints these). Its seeding is Go's
        // with the sequence number in place of Go's stream counter.
        let mut r = Pcg {
            state: 0,
            inc: 54 << 1 | 1,
        };
        r.step();
        r.state = r.state.wrapping_add(42);
        r.step();
        let got: Vec<u32> = (0..6).map(|_| r.uint32()).collect();
        assert_eq!(
            got,
            [0xa15c02b7, 0x7b47f409, 0xba1d3330, 0x83d2f293, 0xbfa4784b, 0xcbed606e]
        );
    }

    #[test]
    fn seeded_matches_go_start() {
        // Go seeds state = seed; step; state += seed; step.
        let r = Pcg::seeded(1, 1);
        let mut want = Pcg { state: 1, inc: 3 };
        want.step();
        want.state = want.state.wrapping_add(1);
        want.step();
        assert_eq!(r, want);
    }

    #[test]
    fn uint32n_is_in_range_and_rejects_like_lemire() {
        let mut r = Pcg::from_state(12345, 3);
        for n in [1u32, 2, 3, 7, 100, 1 << 31, u32::MAX] {
            for _ in 0..1000 {
                assert!(r.uint32n(n) < n);
            }
        }
        // n = 0 draws once.
        let mut a = Pcg::from_state(9, 3);
        let mut b = a.clone();
        assert_eq!(a.uint32n(0), 0);
        b.uint32();
        assert_eq!(a, b);
        assert_eq!(a.intn(1 << 32), None);
        assert_eq!(a, b);
    }
}
