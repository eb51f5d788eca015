//! The static (musl) binaries' allocator. musl's own makes them spend most
//! of their time in `malloc` and `munmap` (a first copy of the bench table:
//! 4.3 s of the puller's CPU instead of glibc's 1.1 s); mimalloc gives them
//! glibc's speed. glibc builds keep the system's allocator.
//!
//! mimalloc's defaults trade memory for speed: freed pages go back to the
//! system only after a delay, and arenas are committed whole, which took a
//! puller's peak RSS from 16 MB to 48..130 MB. [`tune`] asks it to give
//! memory back at once, so memory stays as flat as the streams are.

#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Makes mimalloc give freed memory back at once; the first thing `main`
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
        // options of the linked mimalloc, and 0 is valid for each.
        unsafe {
            mi_option_set(ARENA_EAGER_COMMIT, 0);
            mi_option_set(PURGE_DELAY, 0);
        }
    }
}
