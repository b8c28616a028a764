//! Mail: what a message is, how it is kept at rest (encrypted), and how it leaves (SMTP via
//! lettre, with rustls). When mail is sent, and what it says, is the service layer's
//! (`service::outbox`, `service::email`, `service::reset`).

pub mod compose;

use std::time::Duration;

use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::{Deserialize, Serialize};

/// One message, as composed: plain text always (what every client shows), no HTML.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub to: String,
    pub subject: String,
    pub text: String,
}

/// The key queued mail is sealed with (`data_dir/mail.key`): a copy of the database alone
/// yields no message and so no live link. Instances that share `data_dir` share it.
pub type MailKey = crate::seal::SealKey;

/// The file [`MailKey`] lives in, under `data_dir`.
pub const MAIL_KEY_FILE: &str = "mail.key";

/// How a send went wrong.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Worth trying again later: the server is down, busy, or answered 4xx.
    #[error("{0}")]
    Temporary(String),
    /// It will not work however often we try (a 5xx answer, an address it cannot take).
    #[error("{0}")]
    Permanent(String),
}

/// The way out: an SMTP server from `smtp_url`.
#[derive(Clone)]
pub struct Transport {
    smtp: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// For Message-IDs: `<random@HOST>` with `public_origin`'s host.
    domain: String,
}

/// A send that takes longer than this has failed (and will be tried again).
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

impl Transport {
    /// `smtp://HOST:PORT` (no TLS, for a local relay), `smtp+starttls://USER:PASS@HOST:PORT`
    /// (TLS required after STARTTLS), `smtps://USER:PASS@HOST:PORT` (TLS from the start).
    /// Must be called inside a Tokio runtime (the connection pool runs on it).
    pub fn new(smtp_url: &str, from: &str, domain: &str) -> Result<Transport, String> {
        let (scheme, rest) = smtp_url
            .split_once("://")
            .ok_or_else(|| "smtp_url has no scheme".to_string())?;
        // lettre's own URL form: `smtp://...?tls=required` is STARTTLS.
        let url = match scheme {
            "smtp" => format!("smtp://{rest}"),
            "smtp+starttls" => format!("smtp://{rest}?tls=required"),
            "smtps" => format!("smtps://{rest}"),
            other => return Err(format!("smtp_url scheme {other:?} is not supported")),
        };
        let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(&url)
            .map_err(|e| format!("smtp_url: {e}"))?;
        // Percent-encoded user names and passwords, as URLs carry them.
        let builder = match rest.split_once('@') {
            Some((userinfo, _)) if userinfo.contains(':') => {
                let (user, pass) = userinfo.split_once(':').unwrap_or((userinfo, ""));
                let decode = |s: &str| {
                    percent_decode(s).ok_or_else(|| "smtp_url: bad percent-encoding".to_string())
                };
                builder.credentials(Credentials::new(decode(user)?, decode(pass)?))
            }
            _ => builder,
        };
        let from: Mailbox = from.parse().map_err(|e| format!("mail_from: {e}"))?;
        Ok(Transport {
            smtp: builder.timeout(Some(SEND_TIMEOUT)).build(),
            from,
            domain: domain.to_string(),
        })
    }

    /// Sends `message` now; the server's answer.
    pub async fn send(&self, message: &Message) -> Result<String, SendError> {
        let to: Mailbox = message
            .to
            .parse()
            .map_err(|e| SendError::Permanent(format!("the address cannot receive mail: {e}")))?;
        let email = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject.clone())
            .message_id(Some(format!("<{}@{}>", crate::ids::new_id(), self.domain)))
            .date_now()
            .header(ContentType::TEXT_PLAIN)
            .body(message.text.clone())
            .map_err(|e| SendError::Permanent(format!("cannot build the message: {e}")))?;
        match self.smtp.send(email).await {
            Ok(response) => Ok(format!(
                "{} {}",
                response.code(),
                response.message().collect::<Vec<_>>().join(" ")
            )),
            Err(e) if e.is_permanent() => Err(SendError::Permanent(e.to_string())),
            Err(e) => Err(SendError::Temporary(e.to_string())),
        }
    }
}

/// The SMTP server from the settings, connected on first use: the transport's connection pool
/// lives on the async runtime, which the settings are read before.
pub struct Outgoing {
    smtp_url: String,
    from: String,
    domain: String,
    transport: std::sync::OnceLock<Result<Transport, String>>,
}

impl Outgoing {
    pub fn new(smtp_url: &str, from: &str, domain: &str) -> Outgoing {
        Outgoing {
            smtp_url: smtp_url.to_string(),
            from: from.to_string(),
            domain: domain.to_string(),
            transport: std::sync::OnceLock::new(),
        }
    }

    /// Sends `message` now; the server's answer. Inside the async runtime only.
    pub async fn send(&self, message: &Message) -> Result<String, SendError> {
        let transport = self
            .transport
            .get_or_init(|| Transport::new(&self.smtp_url, &self.from, &self.domain))
            .as_ref()
            .map_err(|e| SendError::Permanent(e.clone()))?;
        transport.send(message).await
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Whether `address` is one mail can be sent to (lettre's parser: no CR/LF, no spaces, an
/// ASCII or IDN domain), with nothing invisible in it.
pub fn deliverable(address: &str) -> bool {
    address.parse::<lettre::Address>().is_ok()
        && !address
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || invisible(c))
}

/// Characters that render as nothing (zero-width spaces and joiners, direction marks, the
/// byte-order mark, soft hyphens): an address holding one looks like another address.
fn invisible(c: char) -> bool {
    matches!(c, '\u{00ad}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{206f}' | '\u{feff}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_mail_opens_with_its_key_only() {
        let dir = tempfile::tempdir().unwrap();
        let key = MailKey::load_or_create(dir.path(), MAIL_KEY_FILE).unwrap();
        let sealed = key.seal(b"a link: https://example.com/password/reset/abc");
        assert!(!sealed.windows(4).any(|w| w == b"link"), "not in the clear");
        assert_eq!(
            key.open(&sealed).as_deref(),
            Some(&b"a link: https://example.com/password/reset/abc"[..])
        );
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(key.open(&tampered), None);
        let other = tempfile::tempdir().unwrap();
        assert_eq!(
            MailKey::load_or_create(other.path(), MAIL_KEY_FILE)
                .unwrap()
                .open(&sealed),
            None
        );
        // The same key after a restart.
        let again = MailKey::load_or_create(dir.path(), MAIL_KEY_FILE).unwrap();
        assert!(again.open(&sealed).is_some());
    }

    #[test]
    fn what_mail_can_be_sent_to() {
        assert!(deliverable("ada@example.com"));
        assert!(!deliverable("ada@example.com\r\nBcc: x@evil.example"));
        assert!(!deliverable("ada example@example.com"));
        assert!(!deliverable("not an address"));
        // Invisible characters make an address look like another one.
        assert!(!deliverable("a\u{200b}da@example.com"));
        assert!(!deliverable("ada@exam\u{200b}ple.com"));
        assert!(!deliverable("ada@example.com\u{feff}"));
        // Unicode an SMTPUTF8 server takes is fine.
        assert!(deliverable("ädä@exämple.com"));
        assert_eq!(percent_decode("p%40ss%3Aw"), Some("p@ss:w".into()));
    }
}
