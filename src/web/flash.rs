//! One-time notices after a redirect ("You have been signed out."). The flash cookie is not
//! signed, and anyone who can set a cookie for this host can plant one (a sibling subdomain,
//! or a network attacker before HSTS), so it never carries text: it names one of the notices
//! below, and the page writes that notice itself in the reader's language. A planted cookie
//! can at most show one of our own sentences.

use rocket::response::{Flash, Redirect};

use super::i18n::Lang;

/// Counts above this are shown as this: a planted cookie cannot make a page say "you signed
/// out 4294967295 devices".
const MAX_COUNT: u32 = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    SignedOut,
    AlreadySignedOut,
    /// After registration; the name comes from the session, never from the cookie.
    Welcome,
    PasswordChanged {
        others_signed_out: u32,
    },
    AccountDeleted,
    ThisDeviceSignedOut,
    DeviceSignedOut,
    OthersSignedOut {
        count: u32,
    },
    /// A new password set with a mailed link.
    PasswordReset,
    AddressChangeRequested,
    VerificationSent,
    /// Signed out, so it cannot say whether the account needed it.
    VerificationSentIfUnverified,
    AlreadyVerified,
    MailOff,
    /// Registered under `require_verified_email`: not signed in until the link is opened.
    VerifyFirst,
    SecondFactorOff,
    /// The second step came too late (or its sign-in was used): start again.
    SecondStepExpired,
}

impl Notice {
    /// The cookie's value: a name, and for counting notices `name.count`.
    fn code(self) -> String {
        match self {
            Notice::SignedOut => "signed-out".into(),
            Notice::AlreadySignedOut => "already-signed-out".into(),
            Notice::Welcome => "welcome".into(),
            Notice::PasswordChanged { others_signed_out } => {
                format!("password-changed.{others_signed_out}")
            }
            Notice::AccountDeleted => "deleted".into(),
            Notice::ThisDeviceSignedOut => "revoked-this".into(),
            Notice::DeviceSignedOut => "revoked-one".into(),
            Notice::OthersSignedOut { count } => format!("revoked-others.{count}"),
            Notice::PasswordReset => "reset".into(),
            Notice::AddressChangeRequested => "address-change".into(),
            Notice::VerificationSent => "verification-sent".into(),
            Notice::VerificationSentIfUnverified => "verification-maybe-sent".into(),
            Notice::AlreadyVerified => "already-verified".into(),
            Notice::MailOff => "no-mail".into(),
            Notice::VerifyFirst => "check-mail".into(),
            Notice::SecondFactorOff => "second-factor-off".into(),
            Notice::SecondStepExpired => "second-step-expired".into(),
        }
    }

    /// The notice a cookie names, if it names one; anything else is ignored.
    pub fn parse(code: &str) -> Option<Notice> {
        let (name, count) = match code.split_once('.') {
            Some((name, n)) => {
                let n: u32 = n.parse().ok()?;
                (name, Some(n.min(MAX_COUNT)))
            }
            None => (code, None),
        };
        Some(match (name, count) {
            ("signed-out", None) => Notice::SignedOut,
            ("already-signed-out", None) => Notice::AlreadySignedOut,
            ("welcome", None) => Notice::Welcome,
            ("password-changed", Some(n)) => Notice::PasswordChanged {
                others_signed_out: n,
            },
            ("deleted", None) => Notice::AccountDeleted,
            ("revoked-this", None) => Notice::ThisDeviceSignedOut,
            ("revoked-one", None) => Notice::DeviceSignedOut,
            ("revoked-others", Some(n)) => Notice::OthersSignedOut { count: n },
            ("reset", None) => Notice::PasswordReset,
            ("address-change", None) => Notice::AddressChangeRequested,
            ("verification-sent", None) => Notice::VerificationSent,
            ("verification-maybe-sent", None) => Notice::VerificationSentIfUnverified,
            ("already-verified", None) => Notice::AlreadyVerified,
            ("no-mail", None) => Notice::MailOff,
            ("check-mail", None) => Notice::VerifyFirst,
            ("second-factor-off", None) => Notice::SecondFactorOff,
            ("second-step-expired", None) => Notice::SecondStepExpired,
            _ => return None,
        })
    }

    /// The notice as the page shows it. `None` where it needs a signed-in user and there is
    /// none (a welcome planted on a signed-out page says nothing).
    pub fn text(self, lang: Lang, username: Option<&str>) -> Option<String> {
        Some(match self {
            Notice::SignedOut => lang.t("logout-done"),
            Notice::AlreadySignedOut => lang.t("logout-already"),
            Notice::Welcome => lang.t_args(
                "register-welcome",
                &[("name", username?.to_string().into())],
            ),
            Notice::PasswordChanged { others_signed_out } => {
                let others = lang.t_args(
                    "account-others-signed-out",
                    &[("count", f64::from(others_signed_out).into())],
                );
                format!("{} {others}", lang.t("account-password-changed"))
                    .trim_end()
                    .to_string()
            }
            Notice::AccountDeleted => lang.t("account-deleted"),
            Notice::ThisDeviceSignedOut => lang.t("sessions-revoked-this"),
            Notice::DeviceSignedOut => lang.t("sessions-revoked-one"),
            Notice::OthersSignedOut { count } => lang.t_args(
                "sessions-revoked-others",
                &[("count", f64::from(count).into())],
            ),
            Notice::PasswordReset => lang.t("reset-done"),
            Notice::AddressChangeRequested => lang.t("account-email-change-sent"),
            Notice::VerificationSent => lang.t("account-email-verification-sent"),
            Notice::VerificationSentIfUnverified => lang.t("verify-required-sent"),
            Notice::AlreadyVerified => lang.t("account-email-already-verified"),
            Notice::MailOff => lang.t("mail-off"),
            Notice::VerifyFirst => lang.t("register-verify-first"),
            Notice::SecondFactorOff => lang.t("twofa-turned-off"),
            Notice::SecondStepExpired => lang.t("twofa-step-expired"),
        })
    }

    /// A redirect that shows this notice on the page it leads to.
    pub fn after(self, to: Redirect) -> Flash<Redirect> {
        Flash::success(to, self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_nothing_else_parses() {
        for n in [
            Notice::SignedOut,
            Notice::AlreadySignedOut,
            Notice::Welcome,
            Notice::PasswordChanged {
                others_signed_out: 2,
            },
            Notice::AccountDeleted,
            Notice::ThisDeviceSignedOut,
            Notice::DeviceSignedOut,
            Notice::OthersSignedOut { count: 3 },
            Notice::PasswordReset,
            Notice::AddressChangeRequested,
            Notice::VerificationSent,
            Notice::VerificationSentIfUnverified,
            Notice::AlreadyVerified,
            Notice::MailOff,
            Notice::VerifyFirst,
            Notice::SecondFactorOff,
            Notice::SecondStepExpired,
        ] {
            assert_eq!(Notice::parse(&n.code()), Some(n));
        }
        for planted in [
            "",
            "Your account is locked. Call +1 555 0100.",
            "<b>hi</b>",
            "signed-out.3",
            "revoked-others",
            "revoked-others.-1",
            "revoked-others.x",
            "welcome.1",
        ] {
            assert_eq!(Notice::parse(planted), None, "{planted:?}");
        }
        assert_eq!(
            Notice::parse("revoked-others.4000000000"),
            Some(Notice::OthersSignedOut { count: MAX_COUNT })
        );
    }

    #[test]
    fn a_welcome_needs_the_signed_in_name() {
        assert_eq!(Notice::Welcome.text(Lang::En, None), None);
        let t = Notice::Welcome.text(Lang::En, Some("ada")).unwrap();
        assert!(t.contains("ada"), "{t}");
    }
}
