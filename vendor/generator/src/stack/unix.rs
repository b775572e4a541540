use std::io;
use std::os::raw::c_void;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::SysStack;

cfg_select! {
    // Fuchsia reports faults through exceptions rather than POSIX signals
    target_os = "fuchsia" => {
        pub mod overflow {
            pub fn init_once() {}
        }
    }
    _ => {
        #[path = "overflow_unix.rs"]
        pub mod overflow;
    }
}

cfg_select! {
    any(
        target_os = "openbsd",
        target_os = "macos",
        target_os = "ios",
        target_os = "tvos",
        target_os = "watchos",
        target_os = "android",
        target_os = "illumos",
        target_os = "solaris"
    ) => {
        const MAP_STACK: libc::c_int = 0;
    }
    _ => {
        const MAP_STACK: libc::c_int = libc::MAP_STACK;
    }
}

/// Hand out a stack of `size` bytes (a whole number of pages, the guard page at its bottom
/// included) with the guard page already installed.
///
/// pyact patch (vendor/README.md): stacks are carved out of slabs, one `mmap` for up to
/// [`SLAB_STACKS`] of them, instead of one `mmap` plus one `mprotect` each. The guard page
/// is a guard marker (`madvise(MADV_GUARD_INSTALL)`, Linux 6.13+), which lives in the page
/// tables and does not split the mapping: a slab stays one memory map however many stacks
/// it holds. Where the kernel has no guard markers the guard is an `mprotect` inside the
/// slab (two maps per stack, as before, but still one `mmap` per slab). A given-back stack
/// returns its pages to the kernel and waits in its slab for the next allocation; its guard
/// stays installed.
pub unsafe fn allocate_stack(size: usize) -> io::Result<SysStack> {
    let base = slab::allocate(size)?;
    Ok(SysStack::new(base.add(size).cast(), base.cast()))
}

/// The usable part of a stack from [`allocate_stack`]: everything above its guard page,
/// which `allocate_stack` installed already (pyact patch: so that a reused stack does not
/// pay for it again).
pub unsafe fn protect_stack(stack: &SysStack) -> io::Result<SysStack> {
    let page_size = page_size();

    debug_assert!(stack.len().is_multiple_of(page_size) && stack.len() != 0);

    let bottom = stack.bottom().cast::<u8>().add(page_size).cast::<c_void>();
    Ok(SysStack::new(stack.top(), bottom))
}

/// Give a stack from [`allocate_stack`] back: `ptr` is its guard page, `size` its whole
/// length. Its pages go back to the kernel (it reads as zeros when reused); the slab is
/// unmapped once all its stacks are back, except one empty slab per stack size.
pub unsafe fn deallocate_stack(ptr: *mut c_void, size: usize) {
    slab::deallocate(ptr.cast(), size);
}

/// Most stacks carved out of one mapping: with 1 MiB stacks, 1,000,000 coroutines need
/// ~15,600 memory maps instead of 2,000,000 (`vm.max_map_count` is 65,530 by default).
pub const SLAB_STACKS: usize = 64;

/// Largest slab in bytes, so that huge stacks are not reserved many at a time.
const SLAB_BYTES: usize = 256 << 20;

/// How many stacks of `size` bytes (guard page included) one slab holds.
pub fn slab_stacks(size: usize) -> usize {
    (SLAB_BYTES / size.max(1)).clamp(1, SLAB_STACKS)
}

/// Whether guard pages are guard markers, which do not split a mapping (probed once).
pub fn guard_markers() -> bool {
    slab::guard_markers()
}

/// How many stacks of `size` bytes (guard page included) fit in `maps` memory mappings.
///
/// A slab is at most one mapping when guard pages are guard markers (adjacent slabs may
/// even merge into one); with `mprotect` guards each handed-out stack is a guard mapping
/// and a stack mapping, plus one for the slab's untouched rest.
pub fn stacks_within(maps: usize, size: usize) -> usize {
    let k = slab_stacks(size);
    if guard_markers() {
        maps.saturating_mul(k)
    } else {
        maps.saturating_mul(k) / (2 * k + 1)
    }
}

/// Stacks handed out by [`allocate_stack`] and not given back yet.
pub fn stacks_in_use() -> usize {
    slab::in_use()
}

/// The slab allocator behind [`allocate_stack`] (pyact patch, vendor/README.md).
mod slab {
    use super::page_size;
    use std::collections::BTreeMap;
    use std::io;
    use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
    use std::sync::Mutex;

    /// `madvise` advice installing guard markers (Linux 6.13+; not in `libc` yet).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    const MADV_GUARD_INSTALL: libc::c_int = 102;

    /// Empty slabs kept per stack size instead of unmapped: a workload that keeps taking
    /// and giving back a few stacks does not map and unmap a slab every time.
    const KEEP_EMPTY: usize = 1;

    /// One mapping holding `slots` stacks of `slot` bytes each, guard page first.
    struct Slab {
        slot: usize,
        slots: usize,
        // unique among all slabs ever mapped, so a stale `partial` entry for an unmapped
        // slab is never taken for a new slab mapped at the same address
        id: u64,
        // bit i: stack i is free
        free: u64,
        // bit i: stack i has its guard page installed (it survives the stack's reuse)
        guarded: u64,
        // whether `(base, id)` is in its size's `partial` list
        listed: bool,
    }

    impl Slab {
        fn all(&self) -> u64 {
            u64::MAX >> (64 - self.slots)
        }
    }

    /// The slabs of one stack size.
    struct Size {
        slot: usize,
        // slabs with free stacks, most recently given back last; may hold stale entries
        // (unmapped slabs, slabs that filled up), skipped when met
        partial: Vec<(usize, u64)>,
        // slabs of this size with every stack free
        empty: usize,
    }

    struct Slabs {
        by_base: BTreeMap<usize, Slab>,
        sizes: Vec<Size>,
        next_id: u64,
        in_use: usize,
    }

    static SLABS: Mutex<Slabs> = Mutex::new(Slabs {
        by_base: BTreeMap::new(),
        sizes: Vec::new(),
        next_id: 0,
        in_use: 0,
    });

    fn lock() -> std::sync::MutexGuard<'static, Slabs> {
        // the bookkeeping is updated without panicking in between, so a poisoned lock
        // still guards consistent data
        SLABS.lock().unwrap_or_else(|e| e.into_inner())
    }

    impl Slabs {
        fn size(&mut self, slot: usize) -> &mut Size {
            let i = match self.sizes.iter().position(|s| s.slot == slot) {
                Some(i) => i,
                None => {
                    self.sizes.push(Size {
                        slot,
                        partial: Vec::new(),
                        empty: 0,
                    });
                    self.sizes.len() - 1
                }
            };
            &mut self.sizes[i]
        }

        /// A free stack of `slot` bytes from an existing slab: its address and whether its
        /// guard page still has to be installed.
        fn take(&mut self, slot: usize) -> Option<(usize, bool)> {
            let i = self.sizes.iter().position(|s| s.slot == slot)?;
            let size = &mut self.sizes[i];
            while let Some(&(base, id)) = size.partial.last() {
                match self.by_base.get_mut(&base) {
                    Some(slab) if slab.id == id => {
                        if slab.free == 0 {
                            slab.listed = false;
                            size.partial.pop();
                            continue;
                        }
                        if slab.free == slab.all() {
                            size.empty -= 1;
                        }
                        let bit = 1u64 << slab.free.trailing_zeros();
                        slab.free &= !bit;
                        if slab.free == 0 {
                            slab.listed = false;
                            size.partial.pop();
                        }
                        let needs_guard = slab.guarded & bit == 0;
                        slab.guarded |= bit;
                        self.in_use += 1;
                        return Some((base + bit.trailing_zeros() as usize * slot, needs_guard));
                    }
                    _ => {
                        size.partial.pop();
                    }
                }
            }
            None
        }

        /// Record a new slab at `base` whose first stack is handed out (its guard pending
        /// unless `all_guarded`: every guard page of the slab is installed already).
        fn insert_taken(&mut self, base: usize, slot: usize, slots: usize, all_guarded: bool) {
            let id = self.next_id;
            self.next_id += 1;
            let mut slab = Slab {
                slot,
                slots,
                id,
                free: 0,
                guarded: 1,
                listed: false,
            };
            if all_guarded {
                slab.guarded = slab.all();
            }
            slab.free = slab.all() & !1;
            if slab.free != 0 {
                slab.listed = true;
                self.size(slot).partial.push((base, id));
            }
            self.by_base.insert(base, slab);
            self.in_use += 1;
        }

        /// Take back the stack at `addr`. Returns a slab to unmap, if this emptied one and
        /// enough empty ones are kept already. `unguard`: its guard page was not installed.
        fn give_back(&mut self, addr: usize, slot: usize, unguard: bool) -> Give {
            let Some((&base, slab)) = self.by_base.range_mut(..=addr).next_back() else {
                return Give::Unknown;
            };
            let i = (addr - base) / slab.slot;
            if slab.slot != slot || i >= slab.slots || base + i * slab.slot != addr {
                return Give::Unknown;
            }
            let bit = 1u64 << i;
            debug_assert!(slab.free & bit == 0, "stack given back twice");
            slab.free |= bit;
            if unguard {
                slab.guarded &= !bit;
            }
            self.in_use -= 1;
            let (id, all_free, listed) = (slab.id, slab.free == slab.all(), slab.listed);
            let len = slab.slots * slab.slot;
            if !listed {
                slab.listed = true;
            }
            let size = self.size(slot);
            if all_free {
                if size.empty >= KEEP_EMPTY {
                    self.by_base.remove(&base);
                    return Give::Unmap(base, len);
                }
                size.empty += 1;
            }
            if !listed {
                size.partial.push((base, id));
            }
            Give::Kept
        }
    }

    enum Give {
        Kept,
        Unmap(usize, usize),
        Unknown,
    }

    const UNKNOWN: u8 = 0;
    const MARKERS: u8 = 1;
    const MPROTECT: u8 = 2;
    static GUARDS: AtomicU8 = AtomicU8::new(UNKNOWN);

    pub fn guard_markers() -> bool {
        match GUARDS.load(Ordering::Relaxed) {
            MARKERS => true,
            MPROTECT => false,
            _ => {
                let markers = probe_markers();
                GUARDS.store(if markers { MARKERS } else { MPROTECT }, Ordering::Relaxed);
                markers
            }
        }
    }

    /// Try a guard marker on a scratch page.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn probe_markers() -> bool {
        let page = page_size();
        // SAFETY: a fresh private anonymous page, advised and unmapped by this function only
        unsafe {
            let p = libc::mmap(
                std::ptr::null_mut(),
                page,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANON,
                -1,
                0,
            );
            if std::ptr::eq(p, libc::MAP_FAILED) {
                return false;
            }
            let ok = libc::madvise(p, page, MADV_GUARD_INSTALL) == 0;
            libc::munmap(p, page);
            ok
        }
    }

    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    fn probe_markers() -> bool {
        false
    }

    /// Make the page at `guard` inaccessible.
    unsafe fn install_guard(guard: *mut u8) -> io::Result<()> {
        let page = page_size();
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if guard_markers() {
            if libc::madvise(guard.cast(), page, MADV_GUARD_INSTALL) == 0 {
                return Ok(());
            }
            let err = io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EINVAL) {
                return Err(err);
            }
            GUARDS.store(MPROTECT, Ordering::Relaxed);
        }
        if libc::mprotect(guard.cast(), page, libc::PROT_NONE) == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Install the guard pages of all `slots` stacks of a new slab at `base` with one
    /// `process_madvise` call: one system call and one pass over the slab's page tables per
    /// [`SLAB_STACKS`](super::SLAB_STACKS) stacks instead of one `madvise` per stack at its
    /// first hand-out. The process is named by `PIDFD_SELF_THREAD` (Linux 6.15+; the
    /// calling thread, so its address space): no file descriptor is held, and a forked child
    /// advises its own memory. `false` if that is not possible here (no guard markers, an
    /// older kernel, not all guards went in): each stack's guard is then installed when it
    /// is first handed out, as before.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    unsafe fn install_slab_guards(base: *mut u8, slot: usize, slots: usize) -> bool {
        /// `PIDFD_SELF_THREAD` (not in `libc` yet).
        const PIDFD_SELF_THREAD: libc::c_int = -10000;
        /// Cleared once `process_madvise` refuses: do not ask again.
        static BATCH: AtomicBool = AtomicBool::new(true);
        if slots < 2 || !guard_markers() || !BATCH.load(Ordering::Relaxed) {
            return false;
        }
        let page = page_size();
        let mut iov = [libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        }; super::SLAB_STACKS];
        for (i, v) in iov.iter_mut().enumerate().take(slots) {
            v.iov_base = base.add(i * slot).cast();
            v.iov_len = page;
        }
        let done = libc::syscall(
            libc::SYS_process_madvise,
            PIDFD_SELF_THREAD,
            iov.as_ptr(),
            slots,
            MADV_GUARD_INSTALL,
            0,
        );
        if done < 0 {
            // no process_madvise (ENOSYS), no PIDFD_SELF_THREAD (EBADF), no guard markers
            // through it (EINVAL), or not allowed (EPERM): per-stack guards from now on. A
            // transient failure (ENOMEM) only affects this slab.
            if io::Error::last_os_error().raw_os_error() != Some(libc::ENOMEM) {
                BATCH.store(false, Ordering::Relaxed);
            }
            return false;
        }
        done as usize == slots * page
    }

    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    unsafe fn install_slab_guards(_base: *mut u8, _slot: usize, _slots: usize) -> bool {
        false
    }

    pub unsafe fn allocate(slot: usize) -> io::Result<*mut u8> {
        const PROT: libc::c_int = libc::PROT_READ | libc::PROT_WRITE;
        const TYPE: libc::c_int = libc::MAP_PRIVATE | libc::MAP_ANON | super::MAP_STACK;

        let taken = lock().take(slot);
        let (addr, needs_guard) = match taken {
            Some(t) => t,
            None => {
                let slots = super::slab_stacks(slot);
                let len = slots
                    .checked_mul(slot)
                    .ok_or_else(|| io::Error::from(io::ErrorKind::OutOfMemory))?;
                let p = libc::mmap(std::ptr::null_mut(), len, PROT, TYPE, -1, 0);
                if std::ptr::eq(p, libc::MAP_FAILED) {
                    return Err(io::Error::last_os_error());
                }
                // A stack touches a page or two at its top: never back a slab with
                // transparent huge pages (with THP "always", the first touch would fault in
                // 2 MiB). A separate small stack mapping never qualified for them. Linux
                // 6.7+ already implies this for MAP_STACK; older kernels need the advice.
                #[cfg(any(target_os = "linux", target_os = "android"))]
                libc::madvise(p, len, libc::MADV_NOHUGEPAGE);
                let all_guarded = install_slab_guards(p.cast(), slot, slots);
                let addr = p.expose_provenance();
                lock().insert_taken(addr, slot, slots, all_guarded);
                (addr, !all_guarded)
            }
        };
        // the stack is ours alone now: no lock needed to install its guard
        if needs_guard {
            if let Err(e) = install_guard(std::ptr::with_exposed_provenance_mut::<u8>(addr)) {
                give_back(addr, slot, true);
                return Err(e);
            }
        }
        Ok(std::ptr::with_exposed_provenance_mut(addr))
    }

    pub unsafe fn deallocate(ptr: *mut u8, slot: usize) {
        // The stack is still ours: drop its pages before it can be handed out again, so
        // its memory goes back to the kernel and the next owner reads zeros (the zero
        // sentinel relies on it, and no data leaks between coroutines). The guard page
        // is left alone: guard markers survive `MADV_DONTNEED`, an `mprotect` stays.
        let page = page_size();
        let dropped = libc::madvise(ptr.add(page).cast(), slot - page, libc::MADV_DONTNEED);
        // it cannot fail on a private anonymous range that is mapped
        debug_assert_eq!(dropped, 0, "{}", io::Error::last_os_error());
        give_back(ptr.expose_provenance(), slot, false);
    }

    unsafe fn give_back(addr: usize, slot: usize, unguard: bool) {
        let give = lock().give_back(addr, slot, unguard);
        match give {
            Give::Kept => {}
            Give::Unmap(base, len) => {
                libc::munmap(
                    std::ptr::with_exposed_provenance_mut::<libc::c_void>(base),
                    len,
                );
            }
            Give::Unknown => {
                debug_assert!(false, "stack {addr:#x} of {slot} bytes is not from a slab");
                libc::munmap(
                    std::ptr::with_exposed_provenance_mut::<libc::c_void>(addr),
                    slot,
                );
            }
        }
    }

    pub fn in_use() -> usize {
        lock().in_use
    }
}

pub fn page_size() -> usize {
    static PAGE_SIZE: AtomicUsize = AtomicUsize::new(0);

    let mut ret = PAGE_SIZE.load(Ordering::Relaxed);

    if ret == 0 {
        unsafe {
            ret = libc::sysconf(libc::_SC_PAGESIZE) as usize;
        }

        PAGE_SIZE.store(ret, Ordering::Relaxed);
    }

    ret
}

pub fn min_stack_size() -> usize {
    // Previously libc::SIGSTKSZ has been used for this, but it proofed to be very unreliable,
    // because the resulting values varied greatly between platforms.
    page_size()
}

#[cfg(not(target_os = "fuchsia"))]
pub fn max_stack_size() -> usize {
    static PAGE_SIZE: AtomicUsize = AtomicUsize::new(0);

    let mut ret = PAGE_SIZE.load(Ordering::Relaxed);

    if ret == 0 {
        let mut limit = std::mem::MaybeUninit::uninit();
        let limitret = unsafe { libc::getrlimit(libc::RLIMIT_STACK, limit.as_mut_ptr()) };
        let limit = unsafe { limit.assume_init() };

        if limitret == 0 {
            ret = if limit.rlim_max == libc::RLIM_INFINITY
                || limit.rlim_max > (usize::MAX as libc::rlim_t)
            {
                usize::MAX
            } else {
                limit.rlim_max as usize
            };

            PAGE_SIZE.store(ret, Ordering::Relaxed);
        } else {
            ret = 1024 * 1024 * 1024;
        }
    }

    ret
}

#[cfg(target_os = "fuchsia")]
pub fn max_stack_size() -> usize {
    // Fuchsia doesn't have a platform defined hard cap.
    usize::MAX
}

#[cfg(test)]
mod tests {
    use super::*;

    // Each test uses its own stack size, so tests running in parallel use different slabs.

    fn maps_covering(addr: usize) -> bool {
        std::fs::read_to_string("/proc/self/maps")
            .unwrap()
            .lines()
            .any(|l| {
                let range = l.split_whitespace().next().unwrap();
                let (lo, hi) = range.split_once('-').unwrap();
                let lo = usize::from_str_radix(lo, 16).unwrap();
                let hi = usize::from_str_radix(hi, 16).unwrap();
                (lo..hi).contains(&addr)
            })
    }

    #[test]
    fn a_given_back_stack_is_reused_and_reads_zeros() {
        let size = 5 * page_size();
        unsafe {
            let a = allocate_stack(size).unwrap();
            let b = allocate_stack(size).unwrap();
            // one slab: the second stack sits right above the first
            assert_eq!(b.bottom().addr(), a.top().addr());
            let top_word = a.top().cast::<usize>().sub(1);
            top_word.write(0xdead);
            let (bottom, len) = (a.bottom(), a.len());
            deallocate_stack(bottom, len);
            let again = allocate_stack(size).unwrap();
            assert_eq!(again.bottom(), bottom, "the free stack is handed out again");
            assert_eq!(
                again.top().cast::<usize>().sub(1).read(),
                0,
                "its pages were dropped"
            );
            deallocate_stack(again.bottom(), again.len());
            deallocate_stack(b.bottom(), b.len());
        }
    }

    /// Whether the page at `addr` can be read through `/proc/self/mem`: a guard marker
    /// cannot (not even with the access override `/proc/self/mem` has for `PROT_NONE`).
    fn readable_through_proc_mem(addr: usize) -> bool {
        use std::io::{Read, Seek, SeekFrom};
        let mut f = std::fs::File::open("/proc/self/mem").unwrap();
        let mut buf = [0u8; 8];
        f.seek(SeekFrom::Start(addr as u64)).unwrap();
        f.read_exact(&mut buf).is_ok()
    }

    #[test]
    fn a_new_slab_has_every_guard_installed_at_once() {
        if !guard_markers() {
            return;
        }
        let size = 7 * page_size();
        unsafe {
            let a = allocate_stack(size).unwrap();
            let base = a.bottom().addr();
            assert!(!readable_through_proc_mem(base), "the first stack's guard");
            assert!(
                readable_through_proc_mem(base + page_size()),
                "the first stack"
            );
            for i in 1..slab_stacks(size) {
                // not handed out yet, and its guard page is a guard already
                assert!(
                    !readable_through_proc_mem(base + i * size),
                    "stack {i}'s guard page is not installed"
                );
                assert!(readable_through_proc_mem(base + i * size + page_size()));
            }
            deallocate_stack(a.bottom(), a.len());
        }
    }

    #[test]
    fn empty_slabs_are_unmapped_but_one() {
        let size = 7 * page_size();
        let k = slab_stacks(size);
        unsafe {
            let stacks: Vec<SysStack> = (0..3 * k).map(|_| allocate_stack(size).unwrap()).collect();
            let bases: Vec<usize> = stacks.iter().map(|s| s.bottom().addr()).collect();
            assert!(bases.iter().all(|&b| maps_covering(b)));
            for s in &stacks {
                deallocate_stack(s.bottom(), s.len());
            }
            // three slabs emptied: one is kept for the next allocations, two are unmapped
            let first_of_slab = |i: usize| bases[i * k];
            let mapped = (0..3).filter(|&i| maps_covering(first_of_slab(i))).count();
            assert_eq!(mapped, 1, "exactly one empty slab stays mapped");
        }
    }

    #[test]
    fn stacks_take_no_more_maps_than_stacks_within_allows() {
        let size = 3 * page_size();
        let k = slab_stacks(size);
        let n = 2 * k + 1;
        unsafe {
            let stacks: Vec<SysStack> = (0..n).map(|_| allocate_stack(size).unwrap()).collect();
            let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
            let ranges: Vec<(usize, usize)> = maps
                .lines()
                .map(|l| {
                    let (lo, hi) = l
                        .split_whitespace()
                        .next()
                        .unwrap()
                        .split_once('-')
                        .unwrap();
                    (
                        usize::from_str_radix(lo, 16).unwrap(),
                        usize::from_str_radix(hi, 16).unwrap(),
                    )
                })
                .collect();
            // the mappings holding any page of these stacks (guard, bottom, top)
            let mut holding: Vec<usize> = stacks
                .iter()
                .flat_map(|s| {
                    let b = s.bottom().addr();
                    [b, b + page_size(), s.top().addr() - 1]
                })
                .map(|addr| {
                    ranges
                        .iter()
                        .position(|&(lo, hi)| (lo..hi).contains(&addr))
                        .unwrap()
                })
                .collect();
            holding.sort_unstable();
            holding.dedup();
            let slabs = n.div_ceil(k);
            // guard markers do not split a slab; mprotect guards make each stack two maps,
            // and each slab's untouched rest may be one more
            let bound = if guard_markers() {
                slabs
            } else {
                2 * n + slabs
            };
            assert!(
                holding.len() <= bound,
                "{} maps for {n} stacks",
                holding.len()
            );
            assert!(
                stacks_within(bound, size) >= n,
                "stacks_within over-promises"
            );
            for s in &stacks {
                deallocate_stack(s.bottom(), s.len());
            }
        }
    }

    // MAP_STACK alone gives this on Linux 6.7+; the explicit MADV_NOHUGEPAGE on older ones
    #[cfg(target_os = "linux")]
    #[test]
    fn slabs_never_get_transparent_huge_pages() {
        let size = 11 * page_size();
        unsafe {
            let s = allocate_stack(size).unwrap();
            let addr = s.top().addr() - 1;
            let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
            // the VmFlags line of the mapping whose header line covers `addr`
            let mut inside = false;
            let mut flags = None;
            for l in smaps.lines() {
                if let Some((lo, rest)) = l.split_once('-') {
                    if let (Ok(lo), Some(hi)) = (
                        usize::from_str_radix(lo, 16),
                        rest.split_whitespace().next(),
                    ) {
                        if let Ok(hi) = usize::from_str_radix(hi, 16) {
                            inside = (lo..hi).contains(&addr);
                            continue;
                        }
                    }
                }
                if inside && l.starts_with("VmFlags:") {
                    flags = Some(l.to_string());
                }
            }
            let flags = flags.expect("the stack's mapping is in smaps");
            assert!(flags.split_whitespace().any(|f| f == "nh"), "{flags}");
            deallocate_stack(s.bottom(), s.len());
        }
    }

    #[test]
    fn stacks_within_counts_slabs_not_stacks() {
        let size = (1 << 20) + page_size();
        let k = slab_stacks(size);
        assert_eq!(k, SLAB_STACKS);
        if guard_markers() {
            assert_eq!(stacks_within(1000, size), 1000 * k);
        } else {
            assert!(stacks_within(1000, size) < 1000 / 2);
        }
    }
}
