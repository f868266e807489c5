//! Memory hints for the few big arrays of a run.

/// Asks the kernel to back `buf` with transparent huge pages (2 MiB) where the machine allows it
/// (`/sys/kernel/mm/transparent_hugepage/enabled` set to `madvise` or `always`). Call it on a
/// fresh, untouched buffer: its pages then fault in 2 MiB at a time instead of 4 KiB, and on
/// virtual machines each fault costs about a microsecond. Only a hint: without it, or on other
/// systems, nothing changes.
pub fn advise_huge_pages<T>(buf: &mut [T]) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const HUGE: usize = 2 << 20;
        let bytes = std::mem::size_of_val(buf);
        if bytes < 2 * HUGE {
            return;
        }
        let start = buf.as_mut_ptr() as usize;
        let (first, end) = (
            (start + HUGE - 1) & !(HUGE - 1),
            (start + bytes) & !(HUGE - 1),
        );
        if end > first {
            // SAFETY: the range lies inside `buf`, which we borrow mutably; MADV_HUGEPAGE changes
            // no contents, only how the pages are backed.
            unsafe {
                libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = buf;
}
