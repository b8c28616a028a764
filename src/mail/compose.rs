//! What each mail says, in the recipient's language, from the catalogs in
//! `locales/*/mail.ftl`: a greeting, what happened (when, from which device and address),
//! the link if there is one, what to do if it was not them, a signature.

use fluent_templates::fluent_bundle::FluentValue;

use super::Message;
use crate::auth::password::SITE_NAME;
use crate::devices::describe_device;
use crate::i18n::{DateFormat, Lang};

/// Who did what, from where: for notices.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    pub at: i64,
    pub user_agent: &'a str,
    /// The client's address, or `cli` for an administrator on the server.
    pub ip: &'a str,
}

#[derive(Debug, Clone)]
pub enum Mail<'a> {
    /// Confirm the account's address (after registration, or asked again).
    Verify {
        link: &'a str,
        valid_for: i64,
    },
    /// Confirm a new address, sent to that address.
    NewAddress {
        link: &'a str,
        valid_for: i64,
        address: &'a str,
    },
    /// A change of address was asked for: sent to the old address.
    AddressChangeRequested {
        address: &'a str,
        by: Context<'a>,
    },
    PasswordReset {
        link: &'a str,
        valid_for: i64,
        by: Context<'a>,
    },
    PasswordChanged {
        by: Context<'a>,
    },
    SecondFactorEnabled {
        by: Context<'a>,
    },
    SecondFactorDisabled {
        by: Context<'a>,
    },
    RecoveryCodesRegenerated {
        by: Context<'a>,
    },
    Test,
}

/// The message for `to` (whose account is called `name`), in `lang`.
pub fn compose(lang: Lang, name: &str, to: &str, mail: &Mail<'_>) -> Message {
    let site = || ("site", FluentValue::from(SITE_NAME));
    let when = |by: &Context<'_>| {
        let at = DateFormat::new(lang).format(by.at);
        [
            ("when", FluentValue::from(at)),
            (
                "device",
                FluentValue::from(describe_device(by.user_agent, lang)),
            ),
            ("ip", FluentValue::from(by.ip.to_string())),
        ]
    };
    let (key, mut args): (&str, Vec<(&str, FluentValue<'_>)>) = match mail {
        Mail::Verify { link, valid_for } => (
            "mail-verify",
            vec![
                ("link", (*link).into()),
                ("hours", (valid_for / 3600).max(1).into()),
            ],
        ),
        Mail::NewAddress {
            link,
            valid_for,
            address,
        } => (
            "mail-new-address",
            vec![
                ("link", (*link).into()),
                ("hours", (valid_for / 3600).max(1).into()),
                ("address", (*address).into()),
            ],
        ),
        Mail::AddressChangeRequested { address, by } => {
            let mut args = vec![("address", FluentValue::from(*address))];
            args.extend(when(by));
            ("mail-address-change", args)
        }
        Mail::PasswordReset {
            link,
            valid_for,
            by,
        } => {
            let mut args = vec![
                ("link", FluentValue::from(*link)),
                ("minutes", (valid_for / 60).max(1).into()),
            ];
            args.extend(when(by));
            ("mail-reset", args)
        }
        Mail::PasswordChanged { by } => ("mail-password-changed", when(by).to_vec()),
        Mail::SecondFactorEnabled { by } => ("mail-2fa-enabled", when(by).to_vec()),
        Mail::SecondFactorDisabled { by } => ("mail-2fa-disabled", when(by).to_vec()),
        Mail::RecoveryCodesRegenerated { by } => ("mail-recovery-codes", when(by).to_vec()),
        Mail::Test => ("mail-test", vec![]),
    };
    args.push(site());
    let subject = lang.t_args(&format!("{key}-subject"), &args);
    let greeting = lang.t_args("mail-greeting", &[("name", name.into())]);
    let body = lang.t_args(&format!("{key}-body"), &args);
    let mut text = format!("{greeting}\n\n{body}\n");
    if matches!(mail, Mail::Verify { .. } | Mail::NewAddress { .. }) {
        text.push('\n');
        text.push_str(&lang.t("mail-not-you"));
        text.push('\n');
    }
    text.push('\n');
    text.push_str(&lang.t_args("mail-signature", &[site()]));
    text.push('\n');
    Message {
        to: to.to_string(),
        subject,
        text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mail_says_what_happened_in_both_languages() {
        let by = Context {
            at: 1_795_707_000,
            user_agent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
            ip: "203.0.113.9",
        };
        let link = "https://login.example.com/password/reset/AbC";
        for lang in crate::i18n::ALL {
            let mails = [
                Mail::Verify {
                    link,
                    valid_for: 86400,
                },
                Mail::NewAddress {
                    link,
                    valid_for: 86400,
                    address: "new@example.com",
                },
                Mail::AddressChangeRequested {
                    address: "new@example.com",
                    by: by.clone(),
                },
                Mail::PasswordReset {
                    link,
                    valid_for: 1800,
                    by: by.clone(),
                },
                Mail::PasswordChanged { by: by.clone() },
                Mail::SecondFactorEnabled { by: by.clone() },
                Mail::SecondFactorDisabled { by: by.clone() },
                Mail::RecoveryCodesRegenerated { by: by.clone() },
                Mail::Test,
            ];
            for mail in &mails {
                let m = compose(lang, "ada", "ada@example.com", mail);
                assert!(
                    !m.subject.contains("mail-") && !m.text.contains("mail-"),
                    "{m:?}"
                );
                assert!(m.subject.contains("gatehouse"), "{m:?}");
                assert!(m.text.contains("ada"), "{m:?}");
                assert!(!m.subject.contains('\n'));
                match mail {
                    Mail::Verify { .. } | Mail::NewAddress { .. } | Mail::PasswordReset { .. } => {
                        assert!(m.text.contains(link), "{m:?}")
                    }
                    Mail::AddressChangeRequested { .. }
                    | Mail::PasswordChanged { .. }
                    | Mail::SecondFactorEnabled { .. }
                    | Mail::SecondFactorDisabled { .. }
                    | Mail::RecoveryCodesRegenerated { .. } => {
                        assert!(m.text.contains("203.0.113.9"), "{m:?}");
                        assert!(m.text.contains("Chrome 120"), "{m:?}");
                        assert!(!m.text.contains("http"), "a notice carries no link: {m:?}");
                    }
                    Mail::Test => {}
                }
            }
        }
        let reset = compose(
            Lang::En,
            "ada",
            "ada@example.com",
            &Mail::PasswordReset {
                link,
                valid_for: 1800,
                by,
            },
        );
        assert!(reset.text.contains("30 minutes"), "{}", reset.text);
    }
}
