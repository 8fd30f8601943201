//! The temp files' names, `fuzz-<pid>-<8 hex digits>`: how a process
//! draws them, spells them, and reads one back.

use core::ffi::CStr;
use core::sync::atomic::{AtomicU64, Ordering};

/// `getpid()`—This process's id, asked at each use: a cached one would be
/// the parent's in a forked child, whose names must carry its own pid.
fn this_pid() -> u32 {
    rustix::process::getpid().as_raw_nonzero().get() as u32
}

/// The seed of this process's names, drawn once ([`name_seed`]). A child
/// forked without `exec` shares it, and its names still differ by the pid.
fn seed() -> u64 {
    static SEED: AtomicU64 = AtomicU64::new(0);
    match SEED.load(Ordering::Relaxed) {
        // Two threads racing both draw one, and either is as good.
        0 => {
            let drawn = name_seed() | 1;
            SEED.store(drawn, Ordering::Relaxed);
            drawn
        }
        known => known,
    }
}

/// 64 bits to seed temp-file names with: `getrandom` where there is one,
/// else the clock, the pid and an address, mixed. The names only need to
/// be hard to guess; `O_EXCL|O_NOFOLLOW` already make a planted file or
/// symlink harmless.
fn name_seed() -> u64 {
    #[cfg(fuzzshm_getrandom)]
    {
        let mut bytes = [0u8; 8];
        let filled = rustix::rand::getrandom(&mut bytes, rustix::rand::GetRandomFlags::NONBLOCK);
        if filled == Ok(bytes.len()) {
            return u64::from_ne_bytes(bytes);
        }
    }
    let now = rustix::time::clock_gettime(rustix::time::ClockId::Realtime);
    let local = &now as *const _ as usize as u64;
    splitmix64(
        (now.tv_sec as u64).rotate_left(32)
            ^ now.tv_nsec as u64
            ^ u64::from(this_pid()).rotate_left(17)
            ^ local,
    )
}

/// The SplitMix64 finaliser: spreads every input bit over the output.
fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A temp file's name, `fuzz-<pid>-<8 hex digits>`, kept as its two
/// numbers (the handle of the C API has room for no more) and spelt out
/// when used. The creator's pid tells whose file it is.
#[derive(Clone, Copy)]
pub(crate) struct TempName {
    /// The creator's pid.
    pub(crate) pid: u32,
    random: u32,
}

impl TempName {
    /// A new name for this process: its pid, and 32 bits from a generator
    /// seeded once per process.
    pub(crate) fn next() -> TempName {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let count = COUNTER.fetch_add(1, Ordering::Relaxed);
        TempName {
            pid: this_pid(),
            random: splitmix64(seed() ^ count.wrapping_mul(0x9e37_79b9_7f4a_7c15)) as u32,
        }
    }

    /// Whether this process created the file: a child forked without
    /// `exec` (a fork server) holds a copy of its parent's names.
    pub(crate) fn created_here(self) -> bool {
        self.pid == this_pid()
    }

    /// The name `name` spells, if it is spelt exactly as [`spelt`](Self::spelt)
    /// spells names: `fuzz-`, a pid in decimal without leading zeros (1 to
    /// `i32::MAX`, the numbers a process may have), `-`, and 8 lowercase
    /// hex digits. Go's `fuzz-<digits>`, and anything else, is not ours.
    #[cfg(fuzzshm_list_dir)]
    pub(crate) fn parse(name: &[u8]) -> Option<TempName> {
        let rest = name.strip_prefix(b"fuzz-")?;
        let dash = rest.iter().position(|&byte| byte == b'-')?;
        let parsed = TempName {
            pid: number(&rest[..dash], 10).filter(|&pid| pid != 0 && pid <= i32::MAX as u32)?,
            random: number(&rest[dash + 1..], 16)?,
        };
        // Spelling it back settles every other question (leading zeros,
        // upper case, too few hex digits): ours only if it is the same.
        (parsed.spelt().as_c_str().to_bytes() == name).then_some(parsed)
    }

    pub(crate) fn spelt(self) -> SpeltName {
        let mut name = SpeltName([0; SpeltName::CAPACITY]);
        let mut end = 0;
        let mut push = |byte: u8| {
            name.0[end] = byte;
            end += 1;
        };
        b"fuzz-".iter().for_each(|&byte| push(byte));
        let digits = self.pid.checked_ilog10().unwrap_or(0) + 1;
        for place in (0..digits).rev() {
            push(b'0' + (self.pid / 10u32.pow(place) % 10) as u8);
        }
        push(b'-');
        for shift in (0..8).rev() {
            push(b"0123456789abcdef"[(self.random >> (4 * shift)) as usize & 0xf]);
        }
        name
    }
}

/// A spelt-out name and its NUL, on the stack: no allocation, so
/// `temp_file_in` works without `alloc`.
pub(crate) struct SpeltName([u8; SpeltName::CAPACITY]);

impl SpeltName {
    /// `fuzz-`, a pid of up to 10 digits, `-`, 8 hex digits, and a NUL.
    const CAPACITY: usize = 5 + 10 + 1 + 8 + 1;

    pub(crate) fn as_c_str(&self) -> &CStr {
        // `spelt` writes at most CAPACITY - 1 bytes, none of them NUL, into
        // zeros: there is always a NUL after them.
        CStr::from_bytes_until_nul(&self.0).unwrap_or(c"fuzz-")
    }
}

/// The value of 1 to 10 digits in `radix`, if it fits in a `u32`.
#[cfg(fuzzshm_list_dir)]
fn number(digits: &[u8], radix: u32) -> Option<u32> {
    if digits.is_empty() || digits.len() > 10 {
        return None;
    }
    digits.iter().try_fold(0u32, |value, &digit| {
        value
            .checked_mul(radix)?
            .checked_add(char::from(digit).to_digit(radix)?)
    })
}

#[cfg(test)]
mod tests {
    #[cfg(fuzzshm_list_dir)]
    #[test]
    fn only_names_spelt_exactly_as_ours_parse() {
        use super::TempName;
        let parse = |name: &str| TempName::parse(name.as_bytes()).map(|n| (n.pid, n.random));
        assert_eq!(parse("fuzz-4242-0badcafe"), Some((4242, 0x0bad_cafe)));
        assert_eq!(parse("fuzz-1-00000000"), Some((1, 0)));
        assert_eq!(
            parse("fuzz-2147483647-ffffffff"),
            Some((2_147_483_647, u32::MAX))
        );
        for pid in [1, 9, 10, 4242, 32768, 4_194_304, i32::MAX as u32] {
            for random in [0, 1, 0x0bad_cafe, u32::MAX] {
                let name = TempName { pid, random }.spelt();
                let parsed = TempName::parse(name.as_c_str().to_bytes());
                assert_eq!(parsed.map(|n| (n.pid, n.random)), Some((pid, random)));
            }
        }
        for not_ours in [
            "",
            ".",
            "..",
            "fuzz-",
            "fuzz-123",                  // Go's os.CreateTemp("", "fuzz-*")
            "fuzz-123-",                 // no random part
            "fuzz--12345678",            // no pid
            "fuzz-abc-12345678",         // a pid that is no number
            "notfuzz-1-12345678",        // another prefix
            "Fuzz-1-12345678",           // another case
            "xfuzz-1-12345678",          // a prefix before ours
            "fuzz-0-12345678",           // no process has pid 0
            "fuzz-012-12345678",         // a leading zero
            "fuzz-+12-12345678",         // a sign
            "fuzz--12-12345678",         // a negative pid: a process group
            "fuzz-2147483648-12345678",  // past i32::MAX
            "fuzz-4294967296-12345678",  // past u32::MAX
            "fuzz-99999999999-12345678", // eleven digits
            "fuzz-12-1234567",           // seven hex digits
            "fuzz-12-123456789",         // nine
            "fuzz-12-0000000001",        // ten, with leading zeros
            "fuzz-12-ABCDEF12",          // upper case
            "fuzz-12-1234567g",          // not hex
            "fuzz-12-+1234567",          // a sign
            "fuzz-12-12345678.tmp",      // a suffix
            "fuzz-12-12345678-1",        // a third part
            "fuzz-12-12345678 ",         // a trailing space
            " fuzz-12-12345678",         // a leading one
            "fuzz-12-1234\u{0}678",      // a NUL
        ] {
            assert_eq!(parse(not_ours), None, "{not_ours:?} parsed");
        }
    }
}
