//! Password policy (SECURITY-BAR PW-1..PW-5) and hashing with bounded bcrypt work (LG-5).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use aws_lc_rs::digest::{digest, SHA384};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rocket::tokio::sync::{OnceCell, Semaphore};

use crate::error::AppError;
use crate::web::i18n::Lang;

pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 128;
/// The name zxcvbn should treat as guessable, beside the user's own name and email.
pub const SITE_NAME: &str = "gatehouse";

/// Our own hashes: bcrypt over base64(SHA-384(password)). The prefix tells them apart from
/// plain `$2b$` hashes imported from other systems.
const SCHEME: &str = "bcrypt-sha384$";

/// Why a password is refused. `Display` is English (the CLI); pages use [`Self::message`].
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

impl PasswordProblem {
    /// The refusal in the user's language, with the estimate's advice.
    pub fn message(&self, lang: Lang) -> String {
        match self {
            PasswordProblem::TooShort => {
                lang.t_args("error-password-short", &[("min", (MIN_LEN as f64).into())])
            }
            PasswordProblem::TooLong => {
                lang.t_args("error-password-long", &[("max", (MAX_LEN as f64).into())])
            }
            PasswordProblem::ControlCharacter => lang.t("error-password-control"),
            PasswordProblem::TooWeak(advice) => lang.t_args(
                "error-password-weak",
                &[("advice", lang.t(advice.0).into())],
            ),
        }
    }
}

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

/// bcrypt as a service: at most `permits` hashes run at once on the blocking pool, at most
/// `max_queue` wait; beyond that callers get `Busy` (503 + Retry-After) instead of latency
/// without bound. Unknown users cost one verify of the same cost as real ones (LG-2).
pub struct Hasher {
    cost: u32,
    permits: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_queue: usize,
    dummy: OnceCell<String>,
    /// bcrypt verifications run, real and dummy: lets tests prove unknown users cost one too.
    verifications: std::sync::atomic::AtomicU64,
}

/// Decrements the wait count however the wait ends (even if the request is dropped).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Seconds a client is told to wait when the queue is full.
pub const BUSY_RETRY_AFTER: u64 = 2;

impl Hasher {
    pub fn new(cost: u32, permits: usize, max_queue: usize) -> Self {
        Hasher {
            cost,
            permits: Arc::new(Semaphore::new(permits.max(1))),
            waiting: AtomicUsize::new(0),
            max_queue,
            dummy: OnceCell::new(),
            verifications: std::sync::atomic::AtomicU64::new(0),
        }
    }

    pub fn cost(&self) -> u32 {
        self.cost
    }

    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }

    async fn run<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.max_queue {
                    self.waiting.fetch_sub(1, Ordering::SeqCst);
                    return Err(AppError::Busy {
                        retry_after: BUSY_RETRY_AFTER,
                    });
                }
                let _waiting = Waiting(&self.waiting);
                self.permits
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| AppError::Internal)?
            }
        };
        rocket::tokio::task::spawn_blocking(move || {
            let _permit = permit;
            f()
        })
        .await
        .map_err(|_| AppError::Internal)
    }

    pub async fn hash(&self, password: &str) -> Result<String, AppError> {
        let password = password.to_string();
        let cost = self.cost;
        self.run(move || hash(&password, cost)).await?.map_err(|e| {
            log::error!("bcrypt failed: {e}");
            AppError::Internal
        })
    }

    /// Verifies against `stored`, or against a dummy hash when there is no such user, so
    /// both take the same time.
    pub async fn verify(
        &self,
        password: &str,
        stored: Option<String>,
    ) -> Result<Verified, AppError> {
        let (stored, real) = match stored {
            Some(s) => (s, true),
            None => (self.dummy_hash().await?, false),
        };
        let password = password.to_string();
        let cost = self.cost;
        let v = self.run(move || verify(&password, &stored, cost)).await?;
        self.verifications.fetch_add(1, Ordering::Relaxed);
        Ok(if real {
            v
        } else {
            Verified {
                ok: false,
                needs_rehash: false,
            }
        })
    }

    /// Made once, at the configured cost, from a random password nobody knows.
    pub async fn dummy_hash(&self) -> Result<String, AppError> {
        self.dummy
            .get_or_try_init(|| async {
                let mut secret = [0u8; 32];
                aws_lc_rs::rand::fill(&mut secret).map_err(|_| AppError::Internal)?;
                let cost = self.cost;
                rocket::tokio::task::spawn_blocking(move || hash(&STANDARD.encode(secret), cost))
                    .await
                    .map_err(|_| AppError::Internal)?
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
        let english = e.message(Lang::En);
        assert!(
            english.starts_with("This password is too easy to guess. ") && english.len() > 40,
            "{english}"
        );
        assert!(
            e.message(Lang::Ko).starts_with("너무 쉽게"),
            "{}",
            e.message(Lang::Ko)
        );
        assert!(check_policy("gatehouse2024", "u", "u@x.io").is_err());
        assert!(check_policy("marguerite1987", "marguerite1987", "m@x.io").is_err());
        assert!(check_policy("  spaces are fine here ok  ", "u", "u@x.io").is_ok());
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
