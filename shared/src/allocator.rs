//! The static (musl) binaries' allocator, and their `memcpy`. musl's own makes them spend most
//! of their time in `malloc` and `munmap` (a first copy of the bench table:
//! 4.3 s of the puller's CPU instead of glibc's 1.1 s); mimalloc gives them
//! glibc's speed. glibc builds keep the system's allocator.
//!
//! mimalloc's defaults trade memory for speed: freed pages go back to the
//! system only after a delay, and arenas are committed whole, which took a
//! puller's peak RSS from 16 MB to 48..130 MB. [`tune`] asks it to commit
//! arenas as they are used and to give freed memory back after 10 ms: at
//! once (0) cost the puller 0.3 s of system time in a first copy of the
//! bench table (madvise per free), and 10 ms costs 3 MB of RSS.

// The static binaries' memcpy and memmove on x86-64 (see dbdump-memcopy):
// linked in by naming the crate.
#[cfg(target_env = "musl")]
use dbdump_memcopy as _;

#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How long mimalloc keeps freed memory before giving it back.
#[cfg(target_env = "musl")]
const PURGE_DELAY_MS: std::ffi::c_long = 10;

/// Makes mimalloc give freed memory back soon; the first thing `main`
/// does (the options it sets are read when memory is next freed or an
/// arena reserved).
pub fn tune() {
    #[cfg(target_env = "musl")]
    {
        // The numbers of `mi_option_arena_eager_commit` and
        // `mi_option_purge_delay` in the `mi_option_e` enum of the mimalloc
        // (v3) that libmimalloc-sys 0.1.49 builds; Cargo.lock pins it.
        const ARENA_EAGER_COMMIT: std::ffi::c_int = 4;
        const PURGE_DELAY: std::ffi::c_int = 15;
        extern "C" {
            fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
        }
        // SAFETY: mi_option_set only stores an option's value; both are
        // options of the linked mimalloc, and the values valid for each.
        unsafe {
            mi_option_set(ARENA_EAGER_COMMIT, 0);
            mi_option_set(PURGE_DELAY, PURGE_DELAY_MS);
        }
    }
}
