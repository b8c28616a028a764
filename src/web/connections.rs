//! How many connections the server takes at once. Every connection is a file descriptor; a
//! process that runs out of them can no longer accept anyone or open its database, so the
//! cap (`max_connections`, enforced by the patched Rocket listener) stays below the open-file
//! limit with room for everything else the process keeps open.

/// Descriptors kept for what is not a client connection: the database pool is counted
/// apart; this covers the listener, the 503s being written to connections over the cap
/// (at most 64 at once), key and template files, logs and standard streams.
const RESERVED: u64 = 128;

/// The process's soft limit on open files, if the platform tells.
pub fn open_file_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the struct we own.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
            return Some(lim.rlim_cur);
        }
        None
    }
    #[cfg(not(unix))]
    None
}

/// Raises the soft open-file limit to the hard one (what Go's runtime and nginx's
/// `worker_rlimit_nofile` do): the soft default, often 1024, is a compatibility relic for
/// `select()`, which nothing here uses. Returns the soft limit now in force.
pub fn raise_open_file_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit read and write the struct we own; failure leaves the
        // limit as it was.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
                return None;
            }
            if lim.rlim_cur < lim.rlim_max {
                let raised = libc::rlimit {
                    rlim_cur: lim.rlim_max,
                    rlim_max: lim.rlim_max,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                    lim = raised;
                }
            }
        }
        Some(lim.rlim_cur)
    }
    #[cfg(not(unix))]
    None
}

/// The cap the server enforces: `configured`, lowered to fit the open-file limit.
pub fn effective_max_connections(configured: u64, pool_size: u32, nofile: Option<u64>) -> u64 {
    let Some(nofile) = nofile else {
        return configured;
    };
    let fits = nofile
        .saturating_sub(RESERVED)
        .saturating_sub(u64::from(pool_size))
        .max(1);
    configured.min(fits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_room_below_the_file_limit() {
        assert_eq!(effective_max_connections(1024, 8, None), 1024);
        assert_eq!(effective_max_connections(1024, 8, Some(65536)), 1024);
        // A systemd default of 1024 open files: the pool, the reserve and the cap fit in it.
        let cap = effective_max_connections(1024, 8, Some(1024));
        assert_eq!(cap, 1024 - 128 - 8);
        assert!(effective_max_connections(1024, 8, Some(100)) >= 1);
    }
}
