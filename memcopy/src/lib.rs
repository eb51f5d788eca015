//! `memcpy` and `memmove` for the static x86-64 binaries. musl's x86-64
//! `memcpy` aligns and finishes byte by byte around a `rep movsq`, whose
//! start-up alone costs tens of cycles: fine for kilobytes, slow for the
//! few bytes of one column value, which is what the server and the puller
//! copy millions of times (memcpy was a fifth of both profiles on the
//! bench). These copy up to 32 bytes with two possibly overlapping loads
//! and stores, up to a few hundred with 16-byte SSE2 moves (every x86-64
//! has SSE2), and larger blocks with `rep movsb`, which CPUs since 2013
//! run at full speed.
//!
//! Exported under the C names only when linking against musl on x86-64
//! (the static build), where they take the place of musl's; elsewhere the
//! same code is built and tested, and the C library's are used. The crate
//! is `no_builtins`, so that the compiler never turns these loops back into
//! calls to `memcpy`, and `no_std`: nothing here may allocate or copy.

#![no_std]
#![no_builtins]

#[cfg(target_arch = "x86_64")]
mod x86_64 {
    use core::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_storeu_si128};

    /// Above this, `rep movsb` beats the SSE2 loop.
    const REP_MOVSB_FROM: usize = 512;

    #[inline(always)]
    unsafe fn load16(p: *const u8) -> __m128i {
        _mm_loadu_si128(p.cast())
    }

    #[inline(always)]
    unsafe fn store16(p: *mut u8, v: __m128i) {
        _mm_storeu_si128(p.cast(), v)
    }

    /// Copies `n <= 32` bytes; every load comes before every store, so the
    /// blocks may overlap.
    #[inline(always)]
    unsafe fn up_to_32(d: *mut u8, s: *const u8, n: usize) {
        if n >= 16 {
            let (a, b) = (load16(s), load16(s.add(n - 16)));
            store16(d, a);
            store16(d.add(n - 16), b);
        } else if n >= 8 {
            let a = s.cast::<u64>().read_unaligned();
            let b = s.add(n - 8).cast::<u64>().read_unaligned();
            d.cast::<u64>().write_unaligned(a);
            d.add(n - 8).cast::<u64>().write_unaligned(b);
        } else if n >= 4 {
            let a = s.cast::<u32>().read_unaligned();
            let b = s.add(n - 4).cast::<u32>().read_unaligned();
            d.cast::<u32>().write_unaligned(a);
            d.add(n - 4).cast::<u32>().write_unaligned(b);
        } else if n > 0 {
            let (a, b, c) = (*s, *s.add(n / 2), *s.add(n - 1));
            *d = a;
            *d.add(n / 2) = b;
            *d.add(n - 1) = c;
        }
    }

    /// Copies `n > 32` bytes front to back, 16 at a time; the last 16 are
    /// loaded first, so a destination before its source may overlap it.
    #[inline(always)]
    unsafe fn forward(d: *mut u8, s: *const u8, n: usize) {
        if n >= REP_MOVSB_FROM {
            core::arch::asm!(
                "rep movsb",
                inout("rcx") n => _,
                inout("rdi") d => _,
                inout("rsi") s => _,
                options(nostack, preserves_flags)
            );
            return;
        }
        let tail = load16(s.add(n - 16));
        let mut i = 0;
        while i + 16 < n {
            store16(d.add(i), load16(s.add(i)));
            i += 16;
        }
        store16(d.add(n - 16), tail);
    }

    /// Copies `n > 32` bytes back to front, 16 at a time; the first 16 are
    /// loaded first, so a destination after its source may overlap it.
    #[inline(always)]
    unsafe fn backward(d: *mut u8, s: *const u8, n: usize) {
        let head = load16(s);
        let mut i = n - 16;
        while i > 16 {
            store16(d.add(i), load16(s.add(i)));
            i -= 16;
        }
        store16(d.add(i), load16(s.add(i)));
        store16(d, head);
    }

    /// # Safety
    /// As C's `memcpy`: `n` bytes readable at `s`, writable at `d`, the two
    /// not overlapping.
    #[cfg_attr(target_env = "musl", no_mangle)]
    pub unsafe extern "C" fn memcpy(d: *mut u8, s: *const u8, n: usize) -> *mut u8 {
        if n <= 32 {
            up_to_32(d, s, n);
        } else {
            forward(d, s, n);
        }
        d
    }

    /// # Safety
    /// As C's `memmove`: `n` bytes readable at `s`, writable at `d`.
    #[cfg_attr(target_env = "musl", no_mangle)]
    pub unsafe extern "C" fn memmove(d: *mut u8, s: *const u8, n: usize) -> *mut u8 {
        if n <= 32 {
            up_to_32(d, s, n);
        } else if (d as usize).wrapping_sub(s as usize) >= n {
            // The destination starts before the source, or past its end:
            // front to back never overwrites a byte before reading it
            // (`rep movsb` included, whose fast mode keeps that order).
            forward(d, s, n);
        } else {
            backward(d, s, n);
        }
        d
    }
}

#[cfg(target_arch = "x86_64")]
pub use x86_64::{memcpy, memmove};

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::{memcpy, memmove};

    /// Every length up to 1100 (both sides of each threshold), at every
    /// alignment of either side within 16 bytes, against a byte loop; the
    /// bytes around the destination stay as they were.
    #[test]
    fn memcpy_copies_exactly_the_bytes_asked() {
        let source: [u8; 1200] = core::array::from_fn(|i| (i * 7 + 3) as u8);
        for n in 0..1100 {
            for so in 0..16 {
                for doff in 0..16 {
                    let mut out = [0xAAu8; 1200];
                    unsafe { memcpy(out.as_mut_ptr().add(doff + 8), source.as_ptr().add(so), n) };
                    assert!(out[..doff + 8].iter().all(|&b| b == 0xAA), "n {n}: before");
                    assert_eq!(&out[doff + 8..doff + 8 + n], &source[so..so + n], "n {n}");
                    assert!(
                        out[doff + 8 + n..].iter().all(|&b| b == 0xAA),
                        "n {n}: after"
                    );
                }
            }
        }
    }

    /// Overlapping moves both ways, at every distance up to 80 bytes.
    #[test]
    fn memmove_handles_overlap_either_way() {
        let original: [u8; 1400] = core::array::from_fn(|i| (i * 13 + 1) as u8);
        for n in (0..100).chain([500, 511, 512, 513, 700, 1000]) {
            for shift in 0..80usize {
                for up in [false, true] {
                    let mut buf = original;
                    let (from, to) = if up {
                        (100, 100 + shift)
                    } else {
                        (100 + shift, 100)
                    };
                    let mut want = original;
                    want.copy_within(from..from + n, to);
                    unsafe {
                        let p = buf.as_mut_ptr();
                        memmove(p.add(to), p.add(from), n);
                    }
                    assert!(buf == want, "n {n}, shift {shift}, up {up}");
                }
            }
        }
    }
}
