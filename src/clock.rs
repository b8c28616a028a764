//! Time as a service, so tests can move it instead of sleeping: background tasks wait on the
//! same clock as requests, so a test that moves a [`ManualClock`] runs the upkeep that falls due.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A pending [`Clock::sleep`].
pub type Sleep = Pin<Box<dyn Future<Output = Awake> + Send>>;

/// Unix time in whole seconds, the unit of every stored timestamp and JWT claim.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> i64;

    /// Resolves once `secs` seconds of this clock have passed since this call (the call, not
    /// the first poll: a task that asks at start-up cannot miss time moved before it runs).
    /// The [`Awake`] it yields is held while the work done on waking lasts.
    ///
    /// Real time counts on tokio's monotonic timer, so a wall-clock step (NTP) neither skips
    /// nor repeats upkeep.
    fn sleep(&self, secs: u64) -> Sleep {
        let due = rocket::tokio::time::Instant::now() + Duration::from_secs(secs);
        Box::pin(async move {
            rocket::tokio::time::sleep_until(due).await;
            Awake(None)
        })
    }
}

#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }
}

/// Held by a task from its wake-up until its work is done. A [`ManualClock`] that moved time
/// returns only once every task it woke has dropped this, so what fell due has happened.
#[must_use = "the work done on waking lasts while this is held"]
pub struct Awake(Option<Arc<Sleepers>>);

impl Drop for Awake {
    fn drop(&mut self) {
        if let Some(sleepers) = self.0.take() {
            sleepers.finished();
        }
    }
}

/// A clock that starts at the real time and only moves when told to.
#[derive(Debug)]
pub struct ManualClock {
    now: AtomicI64,
    sleepers: Arc<Sleepers>,
}

/// How long a move of a [`ManualClock`] waits for the tasks it woke: a task that takes longer
/// is stuck (a test holding what it needs), and the test had better fail than hang.
const WOKEN_TASKS_TIMEOUT: Duration = Duration::from_secs(60);

impl ManualClock {
    pub fn new() -> Self {
        ManualClock {
            now: AtomicI64::new(SystemClock.now()),
            sleepers: Arc::default(),
        }
    }

    /// Moves time forward and returns once every task whose sleep fell due has done its work.
    pub fn advance(&self, secs: i64) {
        let now = self.now.fetch_add(secs, Ordering::SeqCst) + secs;
        self.sleepers.wake_due(now);
    }

    /// Sets the time; tasks whose sleep fell due run as with [`ManualClock::advance`].
    pub fn set(&self, now: i64) {
        self.now.store(now, Ordering::SeqCst);
        self.sleepers.wake_due(now);
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }

    fn sleep(&self, secs: u64) -> Sleep {
        let due = self
            .now()
            .saturating_add(i64::try_from(secs).unwrap_or(i64::MAX));
        let id = self.sleepers.add(due);
        Box::pin(ManualSleep {
            id,
            sleepers: self.sleepers.clone(),
            done: false,
        })
    }
}

/// The sleeps pending on one [`ManualClock`], and how many woken tasks are still working.
#[derive(Debug, Default)]
struct Sleepers {
    state: Mutex<SleepersState>,
    all_finished: Condvar,
}

#[derive(Debug, Default)]
struct SleepersState {
    next_id: u64,
    pending: BTreeMap<u64, Pending>,
    /// Woken and not yet finished: sleeps fired but not yet polled, and [`Awake`]s alive.
    working: usize,
}

#[derive(Debug)]
struct Pending {
    due: i64,
    fired: bool,
    waker: Option<Waker>,
}

impl Sleepers {
    fn lock(&self) -> MutexGuard<'_, SleepersState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn add(&self, due: i64) -> u64 {
        let mut s = self.lock();
        let id = s.next_id;
        s.next_id += 1;
        s.pending.insert(
            id,
            Pending {
                due,
                fired: false,
                waker: None,
            },
        );
        id
    }

    fn wake_due(&self, now: i64) {
        let mut s = self.lock();
        let mut woken = 0;
        for p in s.pending.values_mut() {
            if !p.fired && p.due <= now {
                p.fired = true;
                woken += 1;
                if let Some(w) = p.waker.take() {
                    w.wake();
                }
            }
        }
        s.working += woken;
        let (s, timeout) = self
            .all_finished
            .wait_timeout_while(s, WOKEN_TASKS_TIMEOUT, |s| s.working > 0)
            .unwrap_or_else(|e| e.into_inner());
        if timeout.timed_out() {
            let stuck = s.working;
            drop(s);
            panic!(
                "{stuck} background task(s) woken by the clock did not finish within {}s",
                WOKEN_TASKS_TIMEOUT.as_secs()
            );
        }
    }

    fn finished(&self) {
        let mut s = self.lock();
        s.working -= 1;
        if s.working == 0 {
            self.all_finished.notify_all();
        }
    }
}

struct ManualSleep {
    id: u64,
    sleepers: Arc<Sleepers>,
    done: bool,
}

impl Future for ManualSleep {
    type Output = Awake;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Awake> {
        let mut s = self.sleepers.lock();
        let Some(p) = s.pending.get_mut(&self.id) else {
            // Polled again after it resolved; never happens with `.await`.
            return Poll::Pending;
        };
        if !p.fired {
            p.waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        s.pending.remove(&self.id);
        drop(s);
        // The count of working tasks taken at the wake now belongs to the `Awake`.
        self.done = true;
        Poll::Ready(Awake(Some(self.sleepers.clone())))
    }
}

impl Drop for ManualSleep {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        // A sleep dropped unfinished (its task stopped): it no longer counts as working.
        let fired = self
            .sleepers
            .lock()
            .pending
            .remove(&self.id)
            .map(|p| p.fired);
        if fired == Some(true) {
            self.sleepers.finished();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sleep_counts_from_the_call_and_a_move_waits_for_the_woken_work() {
        let rt = rocket::tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let clock = Arc::new(ManualClock::new());
        let runs = Arc::new(AtomicI64::new(0));
        let first = clock.sleep(60);
        rt.spawn({
            let (clock, runs) = (clock.clone(), runs.clone());
            async move {
                let mut next = first;
                loop {
                    let awake = (&mut next).await;
                    // Slow work: the move must still wait for it.
                    rocket::tokio::time::sleep(Duration::from_millis(50)).await;
                    runs.fetch_add(1, Ordering::SeqCst);
                    next = clock.sleep(60);
                    drop(awake);
                }
            }
        });
        clock.advance(59);
        assert_eq!(runs.load(Ordering::SeqCst), 0);
        clock.advance(1);
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        // A jump of many periods is one pass, and the next is a period after it.
        clock.advance(600);
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        clock.advance(59);
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        clock.advance(1);
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        // A stopped task is no longer waited for.
        drop(rt);
        clock.advance(3600);
    }
}
