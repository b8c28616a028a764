//! Usernames and emails (SECURITY-BAR IV-3): what is accepted, and the keys that make them
//! unique. Refusals are message keys of the catalogs in `locales/`.

use unicode_normalization::UnicodeNormalization;
use unicode_security::MixedScript;

pub const USERNAME_MIN: usize = 3;
pub const USERNAME_MAX: usize = 32;
pub const EMAIL_MAX: usize = 254;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username {
    /// As shown: NFKC of what was typed, case kept.
    pub display: String,
    /// NFKC, lowercased: the unique key.
    pub key: String,
}

/// 3-32 code points of letters, digits, `.`, `_`, `-` after NFKC; one script only, so a
/// Cyrillic `а` cannot stand in for a Latin `a`.
pub fn username(input: &str) -> Result<Username, &'static str> {
    let display: String = input.trim().nfkc().collect();
    let len = display.chars().count();
    if len < USERNAME_MIN {
        return Err("error-username-short");
    }
    if len > USERNAME_MAX {
        return Err("error-username-long");
    }
    if !display
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err("error-username-chars");
    }
    if !display.chars().any(char::is_alphanumeric) {
        return Err("error-username-no-alnum");
    }
    if !display.as_str().is_single_script() {
        return Err("error-username-mixed-script");
    }
    Ok(Username {
        key: username_key(&display),
        display,
    })
}

/// The lookup key for a username someone typed into the login form.
pub fn username_key(input: &str) -> String {
    let lowered = input.trim().nfkc().collect::<String>().to_lowercase();
    lowered.nfkc().collect()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// As stored and shown: the local part as typed, the domain lowercased.
    pub address: String,
    /// Lowercased entirely: the unique key.
    pub key: String,
}

/// A deliverable-looking address: one `@`, a non-empty local part of at most 64 characters,
/// a dotted domain of letters, digits and hyphens; at most 254 characters in all.
pub fn email(input: &str) -> Result<Email, &'static str> {
    let input = input.trim();
    if input.is_empty() {
        return Err("error-email-empty");
    }
    if input.chars().count() > EMAIL_MAX {
        return Err("error-email-long");
    }
    let mut parts = input.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err("error-email-invalid");
    };
    let local_ok = !local.is_empty()
        && local.chars().count() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && !"<>()[]\\,;:\"".contains(c));
    let domain = domain.to_lowercase();
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.chars().count() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    if !local_ok || !domain_ok {
        return Err("error-email-invalid");
    }
    let address = format!("{local}@{domain}");
    Ok(Email {
        key: address.to_lowercase(),
        address,
    })
}

/// The lookup key for an email someone typed into the login form.
pub fn email_key(input: &str) -> String {
    input.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        let u = username("Alice_01").unwrap();
        assert_eq!(
            (u.display.as_str(), u.key.as_str()),
            ("Alice_01", "alice_01")
        );
        // NFKC folds full-width letters into ASCII, so they collide with the plain name.
        assert_eq!(username("Ａｌｉｃｅ").unwrap().key, "alice");
        assert_eq!(username("김철수").unwrap().key, "김철수");
        assert!(username("ab").is_err());
        assert!(username(&"a".repeat(33)).is_err());
        assert!(username("bad name").is_err());
        assert!(username("tab\tname").is_err());
        assert!(username("nul\0name").is_err());
        assert!(username("<script>").is_err());
        assert!(username("...").is_err());
        // Latin "p" and "a" with a Cyrillic "у" in between: mixed scripts, refused.
        assert!(username("pаypal").is_err());
        assert!(username("rtl\u{202e}name").is_err());
        assert!(username("zero\u{200b}width").is_err());
    }

    #[test]
    fn emails() {
        let e = email("Bob.Smith@Example.COM").unwrap();
        assert_eq!(e.address, "Bob.Smith@example.com");
        assert_eq!(e.key, "bob.smith@example.com");
        for bad in [
            "",
            "bob",
            "bob@",
            "@example.com",
            "bob@example",
            "a@b@example.com",
            "bob smith@example.com",
            "bob@exa mple.com",
            "bob@-example.com",
            ".bob@example.com",
            "bob@example..com",
        ] {
            assert!(email(bad).is_err(), "{bad:?} accepted");
        }
        let long = format!("{}@{}.com", "a".repeat(64), "b".repeat(190));
        assert!(email(&long).is_err());
    }
}
