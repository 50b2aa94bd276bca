//! Gives the pages of code only start-up ran back to the kernel, once the gateway serves.
//!
//! Loading the configuration and the mapping, compiling the mapping, building the TLS and HTTP
//! stacks: start-up runs a large part of the binary's 17 MB of machine code once, and every page
//! of it it touched stays in the process's resident set (about 11 MB of code resident after
//! start-up, against the few megabytes a request runs). Once the listeners are up,
//! [`release_startup_code`] tells the kernel (`madvise(MADV_DONTNEED)`) that the process no
//! longer needs the pages of its executable mappings: they leave its resident set, and the
//! code that runs again is mapped back from the page cache on its first use (a minor fault,
//! no disk read while the file stays cached). What stays resident is the code requests run.
//!
//! Only read-only, executable mappings of a file, that hold no page of their own (no
//! copy-on-write page: `Anonymous: 0 kB`), are released: their content is the file's, so
//! dropping a page loses nothing. Writable mappings, the heap, the stacks and the kernel's
//! `[vdso]` are never touched.

/// An executable mapping of a file, as `/proc/self/smaps` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CodeRegion {
    start: usize,
    end: usize,
    resident_kb: u64,
}

/// Releases the resident pages of the process's executable file mappings; answers how many
/// kilobytes were resident in them. Nothing (0) where `/proc/self/smaps` cannot be read.
#[cfg(target_os = "linux")]
pub fn release_startup_code() -> u64 {
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return 0;
    };
    let mut released = 0;
    for region in code_regions(&smaps) {
        // SAFETY: the range is a whole mapping of the process, read-only and backed by a file
        // with no page of its own (checked by `code_regions`): MADV_DONTNEED only unmaps its
        // pages, which fault back in from the file, unchanged, when the code runs again.
        let done = unsafe {
            libc::madvise(
                region.start as *mut libc::c_void,
                region.end - region.start,
                libc::MADV_DONTNEED,
            )
        };
        if done == 0 {
            released += region.resident_kb;
        }
    }
    released
}

#[cfg(not(target_os = "linux"))]
pub fn release_startup_code() -> u64 {
    0
}

/// The mappings of `smaps` (the text of `/proc/self/smaps`) that can be released: executable
/// and not writable (`r-xp`), backed by a file (an inode, a path), with no anonymous page.
fn code_regions(smaps: &str) -> Vec<CodeRegion> {
    let mut regions = Vec::new();
    // The mapping being read, and whether it is known to hold no anonymous page.
    let mut current: Option<(CodeRegion, bool)> = None;
    for line in smaps.lines() {
        if let Some(header) = mapping_header(line) {
            regions.extend(current.take().and_then(|(r, clean)| clean.then_some(r)));
            current = header.map(|region| (region, false));
            continue;
        }
        let Some((region, clean)) = current.as_mut() else {
            continue;
        };
        let Some((field, value)) = line.split_once(':') else {
            continue;
        };
        let kb = value.trim().strip_suffix("kB").map(str::trim);
        match (field, kb.and_then(|v| v.parse::<u64>().ok())) {
            ("Rss", Some(kb)) => region.resident_kb = kb,
            // Known clean only once the field says so.
            ("Anonymous", Some(kb)) => *clean = kb == 0,
            _ => {}
        }
    }
    regions.extend(current.and_then(|(r, clean)| clean.then_some(r)));
    regions
}

/// A mapping's header line of smaps (`start-end perms offset dev inode path`): `Some(None)`
/// for a mapping that is not released, `Some(Some(region))` for one that may be, `None` for
/// a line that is no header (a field).
fn mapping_header(line: &str) -> Option<Option<CodeRegion>> {
    let mut fields = line.split_ascii_whitespace();
    let range = fields.next()?;
    let (start, end) = range.split_once('-')?;
    let start = usize::from_str_radix(start, 16).ok()?;
    let end = usize::from_str_radix(end, 16).ok()?;
    let perms = fields.next()?;
    let (_offset, _device) = (fields.next()?, fields.next()?);
    let inode = fields.next()?;
    let path = fields.next().unwrap_or("");
    let releasable = perms == "r-xp" && inode != "0" && path.starts_with('/') && end > start;
    Some(releasable.then_some(CodeRegion {
        start,
        end,
        resident_kb: 0,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMAPS: &str = "\
560be877a000-560be8b35000 r--p 00000000 fe:00 10010734                   /opt/scim-gateway
Size:               3820 kB
Rss:                1624 kB
Anonymous:             0 kB
560be8b35000-560be9b65000 r-xp 003ba000 fe:00 10010734                   /opt/scim-gateway
Size:              16576 kB
Rss:               10688 kB
Anonymous:             0 kB
560be9b65000-560be9bc0000 r--p 013e9000 fe:00 10010734                   /opt/scim-gateway
Rss:                 364 kB
Anonymous:           364 kB
560be9bc0000-560be9bc9000 rw-p 01443000 fe:00 10010734                   /opt/scim-gateway
Rss:                  36 kB
Anonymous:            36 kB
20000000000-20040000000 rw-p 00000000 00:00 0
Rss:                1848 kB
Anonymous:          1848 kB
7f75134b5000-7f751360b000 r-xp 00028000 fe:00 2491                       /usr/lib/x86_64-linux-gnu/libc.so.6
Rss:                1068 kB
Anonymous:             0 kB
7f7513700000-7f7513710000 r-xp 00000000 fe:00 3001                       /usr/lib/patched.so
Rss:                  64 kB
Anonymous:             4 kB
7ffd1c5f2000-7ffd1c5f4000 r-xp 00000000 00:00 0                          [vdso]
Rss:                   8 kB
Anonymous:             0 kB
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
Rss:                   0 kB
";

    #[test]
    fn only_clean_executable_file_mappings_are_released() {
        assert_eq!(
            code_regions(SMAPS),
            vec![
                CodeRegion {
                    start: 0x560b_e8b3_5000,
                    end: 0x560b_e9b6_5000,
                    resident_kb: 10688,
                },
                CodeRegion {
                    start: 0x7f75_134b_5000,
                    end: 0x7f75_1360_b000,
                    resident_kb: 1068,
                },
            ]
        );
    }

    #[test]
    fn a_mapping_whose_anonymous_count_is_missing_is_kept() {
        let text = "7f0000000000-7f0000010000 r-xp 00000000 fe:00 12 /usr/lib/a.so\nRss: 64 kB\n";
        assert!(code_regions(text).is_empty());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn released_code_runs_again() {
        // The test binary's own code: released, then run (this very function, the test
        // harness and the formatting below fault back in).
        let released = release_startup_code();
        assert!(released > 0, "some code was resident");
        let text = format!("{}", released.saturating_add(1));
        assert_eq!(text.parse::<u64>().unwrap(), released + 1);
    }
}
