//! Password policy (SECURITY-BAR PW-1..PW-5) and hashing with bounded bcrypt work (LG-5).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Condvar, Mutex};

use aws_lc_rs::digest::{digest, SHA384};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rocket::tokio::sync::OnceCell;

use crate::error::AppError;

pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 128;
/// The product's name, as pages show it and as the strength estimate treats it: guessable,
/// like the user's own name and email.
pub const SITE_NAME: &str = "gatehouse";

/// Our own hashes: bcrypt over base64(SHA-384(password)). The prefix tells them apart from
/// plain `$2b$` hashes imported from other systems.
const SCHEME: &str = "bcrypt-sha384$";

/// Why a password is refused. `Display` is English (the CLI); pages use
/// `Lang::password_problem`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordProblem {
    #[error("Use at least {MIN_LEN} characters.")]
    TooShort,
    #[error("Use at most {MAX_LEN} characters.")]
    TooLong,
    #[error("Passwords cannot contain control characters.")]
    ControlCharacter,
    #[error("This password is too easy to guess.")]
    TooWeak(Advice),
}

/// What the strength estimate suggests, as a message key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Advice(pub &'static str);

/// The strength estimate: zxcvbn's score (0-4) and its advice, knowing the user's name, email
/// and the site's name.
pub fn estimate(password: &str, username: &str, email: &str) -> (u8, Option<Advice>) {
    let local_part = email.split('@').next().unwrap_or("");
    let entropy = zxcvbn::zxcvbn(password, &[username, email, local_part, SITE_NAME]);
    let advice = entropy.feedback().and_then(|f| {
        f.warning()
            .map(warning_key)
            .or_else(|| f.suggestions().first().map(|s| suggestion_key(*s)))
    });
    let personal = [username, local_part, SITE_NAME]
        .iter()
        .any(|w| w.chars().count() >= 3 && password.to_lowercase().contains(&w.to_lowercase()));
    let advice = match advice {
        Some(a) => Some(a),
        None if personal => Some(Advice("advice-personal")),
        None => None,
    };
    (entropy.score() as u8, advice)
}

fn warning_key(w: zxcvbn::feedback::Warning) -> Advice {
    use zxcvbn::feedback::Warning::*;
    Advice(match w {
        StraightRowsOfKeysAreEasyToGuess => "advice-straight-row",
        ShortKeyboardPatternsAreEasyToGuess => "advice-short-pattern",
        RepeatsLikeAaaAreEasyToGuess => "advice-repeats-simple",
        RepeatsLikeAbcAbcAreOnlySlightlyHarderToGuess => "advice-repeats-complex",
        ThisIsATop10Password => "advice-top10",
        ThisIsATop100Password => "advice-top100",
        ThisIsACommonPassword => "advice-common",
        ThisIsSimilarToACommonlyUsedPassword => "advice-similar-common",
        SequencesLikeAbcAreEasyToGuess => "advice-sequences",
        RecentYearsAreEasyToGuess => "advice-recent-years",
        AWordByItselfIsEasyToGuess => "advice-word",
        DatesAreOftenEasyToGuess => "advice-dates",
        NamesAndSurnamesByThemselvesAreEasyToGuess => "advice-names",
        CommonNamesAndSurnamesAreEasyToGuess => "advice-common-names",
    })
}

fn suggestion_key(s: zxcvbn::feedback::Suggestion) -> Advice {
    use zxcvbn::feedback::Suggestion::*;
    Advice(match s {
        UseAFewWordsAvoidCommonPhrases => "advice-add-words",
        NoNeedForSymbolsDigitsOrUppercaseLetters => "advice-no-symbols",
        AddAnotherWordOrTwo => "advice-default",
        CapitalizationDoesntHelpVeryMuch => "advice-caps",
        AllUppercaseIsAlmostAsEasyToGuessAsAllLowercase => "advice-all-caps",
        ReversedWordsArentMuchHarderToGuess => "advice-reversed",
        PredictableSubstitutionsDontHelpVeryMuch => "advice-substitutions",
        UseALongerKeyboardPatternWithMoreTurns => "advice-longer-pattern",
        AvoidRepeatedWordsAndCharacters => "advice-avoid-repeats",
        AvoidSequences => "advice-avoid-sequences",
        AvoidRecentYears => "advice-avoid-years",
        AvoidYearsThatAreAssociatedWithYou => "advice-avoid-years",
        AvoidDatesAndYearsThatAreAssociatedWithYou => "advice-avoid-dates",
    })
}

/// PW-1, PW-3, PW-4: length in code points, no control characters, a strength estimate that
/// knows the user's name and email and the site's name. No composition rules; nothing trimmed.
pub fn check_policy(password: &str, username: &str, email: &str) -> Result<(), PasswordProblem> {
    let len = password.chars().count();
    if len < MIN_LEN {
        return Err(PasswordProblem::TooShort);
    }
    if len > MAX_LEN {
        return Err(PasswordProblem::TooLong);
    }
    if password.chars().any(char::is_control) {
        return Err(PasswordProblem::ControlCharacter);
    }
    let (score, advice) = estimate(password, username, email);
    if score < 3 {
        return Err(PasswordProblem::TooWeak(
            advice.unwrap_or(Advice("advice-default")),
        ));
    }
    Ok(())
}

/// bcrypt reads only 72 bytes and stops at NUL; SHA-384 in base64 is 64 printable bytes,
/// so every character of a long password counts (PW-2).
fn prehash(password: &str) -> String {
    STANDARD.encode(digest(&SHA384, password.as_bytes()))
}

pub fn hash(password: &str, cost: u32) -> Result<String, bcrypt::BcryptError> {
    Ok(format!(
        "{SCHEME}{}",
        bcrypt::non_truncating_hash(prehash(password), cost)?
    ))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub ok: bool,
    /// The stored hash is weaker than what we would make now: rehash it.
    pub needs_rehash: bool,
}

impl Verified {
    const NO: Verified = Verified {
        ok: false,
        needs_rehash: false,
    };
}

/// Checks `password` against a stored hash: ours, or a plain bcrypt hash imported from
/// elsewhere (which saw the raw password, truncated at 72 bytes as those systems did).
pub fn verify(password: &str, stored: &str, cost: u32) -> Verified {
    let (ok, legacy, bcrypt_part) = if let Some(ours) = stored.strip_prefix(SCHEME) {
        (
            bcrypt::non_truncating_verify(prehash(password), ours).unwrap_or(false),
            false,
            ours,
        )
    } else if is_plain_bcrypt(stored) {
        (
            bcrypt::verify(password, stored).unwrap_or(false),
            true,
            stored,
        )
    } else {
        log::error!("a stored password hash has an unknown format");
        return Verified {
            ok: false,
            needs_rehash: false,
        };
    };
    Verified {
        ok,
        needs_rehash: ok && (legacy || bcrypt_cost(bcrypt_part).is_none_or(|c| c < cost)),
    }
}

/// `$2a$`, `$2b$` or `$2y$` with a two-digit cost: what Python's bcrypt, PHP and others make.
pub fn is_plain_bcrypt(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 60
        && (s.starts_with("$2a$") || s.starts_with("$2b$") || s.starts_with("$2y$"))
        && b[6] == b'$'
        && bcrypt_cost(s).is_some_and(|c| (4..=31).contains(&c))
}

fn bcrypt_cost(h: &str) -> Option<u32> {
    h.get(4..6)?.parse().ok()
}

/// The bcrypt cost of a stored hash (ours or imported); `None` for a format we cannot read.
fn stored_cost(stored: &str) -> Option<u32> {
    let bcrypt_part = stored.strip_prefix(SCHEME).unwrap_or(stored);
    if is_plain_bcrypt(bcrypt_part) {
        bcrypt_cost(bcrypt_part)
    } else {
        None
    }
}

/// The bcrypt runs a password check made, for the counters tests read.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Work {
    runs: u64,
    at_full_cost: u64,
}

/// [`verify`], noting in `work` the bcrypt it ran (none for a hash it cannot read).
fn verify_counted(password: &str, stored: &str, cost: u32, work: &mut Work) -> Verified {
    let verified = verify(password, stored, cost);
    if let Some(c) = stored_cost(stored) {
        work.runs += 1;
        work.at_full_cost += u64::from(c >= cost);
    }
    verified
}

/// Checks `password` against `stored` (or, with no stored hash, against `dummy`), so that
/// every check costs at least one bcrypt at `cost`, whatever the account (LG-2): a hash below
/// `cost` (imported at cost 4, say) or in a format we cannot read is verified and then padded
/// with a verify of `dummy`. Otherwise a wrong password on such an account would answer in a
/// few milliseconds where an unknown user takes a full bcrypt, telling the two apart.
fn check_padded(password: &str, stored: Option<&str>, dummy: &str, cost: u32) -> (Verified, Work) {
    let mut work = Work::default();
    let verified = match stored {
        Some(stored) => verify_counted(password, stored, cost, &mut work),
        None => {
            verify_counted(password, dummy, cost, &mut work);
            Verified::NO
        }
    };
    if work.at_full_cost == 0 {
        verify_counted(password, dummy, cost, &mut work);
    }
    (verified, work)
}

/// bcrypt as a service, on threads of its own (one per core) that run at a lower CPU
/// priority: under a sign-in flood the hashing takes the CPU the rest of the site leaves
/// over, so pages stay fast. At most `max_queue` hashes wait for a thread; beyond that
/// callers get `Busy` (503 + Retry-After) at once instead of latency without bound.
/// Unknown users cost one verify of the same cost as real ones (LG-2).
pub struct Hasher {
    cost: u32,
    jobs: Sender<Job>,
    /// Admission: threads + `max_queue` places; a job holds one until it has run.
    free: Arc<AtomicUsize>,
    places: usize,
    gate: Arc<Gate>,
    dummy: OnceCell<String>,
    /// bcrypt verifications run, real and dummy: lets tests prove unknown users cost one too.
    verifications: AtomicU64,
    /// Of those, the ones at the configured cost (or more): every password check makes one.
    full_cost_verifications: AtomicU64,
}

/// Stops the bcrypt threads from starting jobs while a [`Hold`] lives. Tests use it to make
/// a change land between a request's lookup and its password check, or to have a burst of
/// requests all reach the bcrypt queue before any finishes. Never held in production, where
/// it costs one uncontended lock per hash.
#[derive(Default)]
struct Gate {
    holds: Mutex<usize>,
    opened: Condvar,
}

impl Gate {
    fn pass(&self) {
        let mut holds = self.holds.lock().unwrap_or_else(|p| p.into_inner());
        while *holds > 0 {
            holds = self.opened.wait(holds).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// See [`Hasher::hold`]. The bcrypt threads go on when it is dropped.
pub struct Hold(Arc<Gate>);

impl Drop for Hold {
    fn drop(&mut self) {
        let mut holds = self.0.holds.lock().unwrap_or_else(|p| p.into_inner());
        *holds -= 1;
        self.0.opened.notify_all();
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// Seconds a client is told to wait when the queue is full.
pub const BUSY_RETRY_AFTER: u64 = 2;

/// Lowers the calling thread's priority to `nice` (Linux nice levels: at 10 a thread has
/// about a tenth of the CPU weight of a normal one when both want the CPU).
fn lower_priority(nice: i32) {
    #[cfg(target_os = "linux")]
    // SAFETY: plain syscalls on the calling thread; failure only leaves the priority as is.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        if nice > 0 && libc::setpriority(libc::PRIO_PROCESS, tid, nice) != 0 {
            log::warn!("cannot lower the bcrypt threads' priority");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}

impl Hasher {
    /// `nice`: how much lower than the web workers the hashing threads run (see
    /// `bcrypt_nice` in the README).
    /// Fails if a thread cannot be started: with no thread, sign-ins would wait forever.
    pub fn new(cost: u32, threads: usize, max_queue: usize, nice: i32) -> std::io::Result<Self> {
        let threads = threads.max(1);
        let (jobs, rx) = channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("bcrypt-{i}"))
                .spawn(move || {
                    lower_priority(nice);
                    // Ends when the Hasher (the sender) is dropped.
                    loop {
                        let job = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                        match job {
                            Ok(job) => job(),
                            Err(_) => break,
                        }
                    }
                })?;
        }
        Ok(Hasher {
            cost,
            jobs,
            free: Arc::new(AtomicUsize::new(threads + max_queue)),
            places: threads + max_queue,
            gate: Arc::default(),
            dummy: OnceCell::new(),
            verifications: AtomicU64::new(0),
            full_cost_verifications: AtomicU64::new(0),
        })
    }

    pub fn cost(&self) -> u32 {
        self.cost
    }

    /// Every bcrypt verify run so far, real, dummy and padding.
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }

    /// The bcrypt verifies run at the configured cost (or more) so far: one per password
    /// check, whatever the account's stored hash (see `check_padded`).
    pub fn full_cost_verifications(&self) -> u64 {
        self.full_cost_verifications.load(Ordering::Relaxed)
    }

    /// Jobs admitted and not finished yet (waiting for a thread, or running).
    pub fn pending(&self) -> usize {
        self.places
            .saturating_sub(self.free.load(Ordering::Acquire))
    }

    /// Until the returned [`Hold`] is dropped, no bcrypt job starts (they queue as usual).
    /// For tests; see [`Gate`].
    pub fn hold(&self) -> Hold {
        *self.gate.holds.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        Hold(self.gate.clone())
    }

    async fn run<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let admitted = self
            .free
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok();
        if !admitted {
            return Err(AppError::Busy {
                retry_after: BUSY_RETRY_AFTER,
            });
        }
        let (tx, rx) = rocket::tokio::sync::oneshot::channel();
        let free = self.free.clone();
        let gate = self.gate.clone();
        let job: Job = Box::new(move || {
            gate.pass();
            if tx.is_closed() {
                // The caller gave up (the client went away): a flood whose clients time out
                // must not leave a backlog of hashes nobody waits for.
                free.fetch_add(1, Ordering::AcqRel);
                return;
            }
            let result = f();
            // The place frees once the work is done (even if the caller stopped waiting), and
            // before the caller hears back, so its next job finds the place free.
            free.fetch_add(1, Ordering::AcqRel);
            let _ = tx.send(result);
        });
        if self.jobs.send(job).is_err() {
            self.free.fetch_add(1, Ordering::AcqRel);
            return Err(AppError::Internal);
        }
        rx.await.map_err(|_| AppError::Internal)
    }

    pub async fn hash(&self, password: &str) -> Result<String, AppError> {
        let password = password.to_string();
        let cost = self.cost;
        self.run(move || hash(&password, cost)).await?.map_err(|e| {
            log::error!("bcrypt failed: {e}");
            AppError::Internal
        })
    }

    /// Verifies against `stored`, or against a dummy hash when there is no such user (or the
    /// caller refuses the attempt anyway), so that every check costs at least one bcrypt at
    /// the configured cost (LG-2; see `check_padded`).
    pub async fn verify(
        &self,
        password: &str,
        stored: Option<String>,
    ) -> Result<Verified, AppError> {
        let dummy = self.dummy_hash().await?;
        let password = password.to_string();
        let cost = self.cost;
        let (verified, work) = self
            .run(move || check_padded(&password, stored.as_deref(), &dummy, cost))
            .await?;
        self.verifications.fetch_add(work.runs, Ordering::Relaxed);
        self.full_cost_verifications
            .fetch_add(work.at_full_cost, Ordering::Relaxed);
        Ok(verified)
    }

    /// Made once, at the configured cost, from a random password nobody knows.
    pub async fn dummy_hash(&self) -> Result<String, AppError> {
        self.dummy
            .get_or_try_init(|| async {
                let mut secret = [0u8; 32];
                aws_lc_rs::rand::fill(&mut secret).map_err(|_| AppError::Internal)?;
                let cost = self.cost;
                self.run(move || hash(&STANDARD.encode(secret), cost))
                    .await?
                    .map_err(|_| AppError::Internal)
            })
            .await
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_counts_code_points() {
        // 8 Hangul syllables are 24 bytes but 8 characters: long enough.
        assert_ne!(
            check_policy("가나다라마바사아", "u", "u@x.io"),
            Err(PasswordProblem::TooShort)
        );
        assert_eq!(
            check_policy("abcdefg", "u", "u@x.io"),
            Err(PasswordProblem::TooShort)
        );
        assert_eq!(
            check_policy(&"가".repeat(129), "u", "u@x.io"),
            Err(PasswordProblem::TooLong)
        );
    }

    #[test]
    fn control_characters_are_refused() {
        assert_eq!(
            check_policy("correct\0horse battery", "u", "u@x.io"),
            Err(PasswordProblem::ControlCharacter)
        );
        assert_eq!(
            check_policy("correct\thorse battery", "u", "u@x.io"),
            Err(PasswordProblem::ControlCharacter)
        );
    }

    #[test]
    fn weak_and_personal_passwords_are_refused_with_a_reason() {
        let e = check_policy("password1", "u", "u@x.io").unwrap_err();
        assert!(
            matches!(e, PasswordProblem::TooWeak(Advice(k)) if k.starts_with("advice-")),
            "{e:?}"
        );
        assert!(check_policy("gatehouse2024", "u", "u@x.io").is_err());
        assert!(check_policy("marguerite1987", "marguerite1987", "m@x.io").is_err());
        assert!(check_policy("  spaces are fine here ok  ", "u", "u@x.io").is_ok());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn bcrypt_runs_on_lower_priority_threads_and_refuses_beyond_the_queue() {
        let rt = rocket::tokio::runtime::Runtime::new().unwrap();
        let hasher = Hasher::new(4, 1, 0, 10).unwrap();
        let nice = rt
            .block_on(hasher.run(|| {
                // SAFETY: reads the calling thread's nice value.
                unsafe {
                    libc::getpriority(
                        libc::PRIO_PROCESS,
                        libc::syscall(libc::SYS_gettid) as libc::id_t,
                    )
                }
            }))
            .unwrap();
        assert_eq!(nice, 10);
        // One thread, no queue: while it is busy, the next job is refused at once.
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        rt.block_on(async {
            let busy = hasher.run(move || {
                started_tx.send(()).unwrap();
                release_rx.recv().unwrap();
            });
            let second = async {
                started_rx.recv().unwrap();
                let r = hasher.run(|| ()).await;
                release_tx.send(()).unwrap();
                r
            };
            let (first, second) = rocket::tokio::join!(busy, second);
            assert!(first.is_ok());
            assert!(matches!(
                second,
                Err(AppError::Busy {
                    retry_after: BUSY_RETRY_AFTER
                })
            ));
        });
    }

    #[test]
    fn no_truncation_at_72_bytes() {
        let a = format!("{}A", "x".repeat(80));
        let b = format!("{}B", "x".repeat(80));
        let h = hash(&a, 4).unwrap();
        assert!(verify(&a, &h, 4).ok);
        assert!(!verify(&b, &h, 4).ok);
        let cjk = "비밀번호".repeat(16); // 64 characters, 192 bytes
        let h = hash(&cjk, 4).unwrap();
        assert!(verify(&cjk, &h, 4).ok);
        assert!(!verify(&"비밀번호".repeat(15), &h, 4).ok);
    }

    #[test]
    fn every_check_costs_one_bcrypt_at_the_configured_cost() {
        let cost = 5;
        let dummy = hash("nobody knows this", cost).unwrap();
        assert_eq!(
            stored_cost(&dummy),
            Some(cost),
            "the dummy is at the configured cost"
        );
        let full = |runs| Work {
            runs,
            at_full_cost: 1,
        };
        let ours = hash("right password ok", cost).unwrap();
        let imported = bcrypt::hash("right password ok", 4).unwrap();
        let weak_ours = hash("right password ok", 4).unwrap();
        for (label, stored, work) in [
            ("unknown user", None, full(1)),
            ("current hash", Some(ours.as_str()), full(1)),
            ("imported at cost 4", Some(imported.as_str()), full(2)),
            ("ours at cost 4", Some(weak_ours.as_str()), full(2)),
            ("unreadable hash", Some("garbage"), full(1)),
        ] {
            let (v, w) = check_padded("wrong password!!", stored, &dummy, cost);
            assert!(!v.ok, "{label}");
            assert_eq!(w, work, "{label}");
        }
        // Padding never changes the answer.
        assert!(
            check_padded("right password ok", Some(&imported), &dummy, cost)
                .0
                .ok
        );
        assert!(
            check_padded("right password ok", Some(&weak_ours), &dummy, cost)
                .0
                .needs_rehash
        );
    }

    #[test]
    fn plain_bcrypt_verifies_and_asks_for_rehash() {
        let plain = bcrypt::hash("hunter2hunter2", 4).unwrap();
        assert!(is_plain_bcrypt(&plain));
        let v = verify("hunter2hunter2", &plain, 4);
        assert_eq!(
            v,
            Verified {
                ok: true,
                needs_rehash: true
            }
        );
        assert!(!verify("wrong", &plain, 4).ok);
        let ours = hash("hunter2hunter2", 4).unwrap();
        assert!(!verify("hunter2hunter2", &ours, 4).needs_rehash);
        assert!(verify("hunter2hunter2", &ours, 5).needs_rehash);
        assert!(!verify("x", "garbage", 4).ok);
    }
}
