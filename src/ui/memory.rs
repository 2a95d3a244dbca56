//! Returning freed memory to the system after a large answer. glibc gives each thread that
//! allocates concurrently its own arena and keeps what a request freed there for later; with 8
//! worker threads each holding one large request's temporaries, an idle server stays hundreds of
//! MB large. `malloc_trim(0)` releases the free pages of every arena.

/// Releases the allocator's free memory to the system (glibc only; a no-op elsewhere).
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists; it takes no pointers.
    unsafe {
        libc::malloc_trim(0);
    }
}
