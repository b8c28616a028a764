//! The browser is the judge: tests/e2e/journeys.mjs drives headless Chromium (Debian's
//! package) through sign-up, sign-in, remember-me across restarts, revocation, cross-site
//! posts, the CSP, JavaScript off, two languages, small screens, and axe-core on every page;
//! mail (verification and password reset) through a real SMTP server on loopback, whose
//! messages are written to a directory the journeys read.
//! Needs `bash scripts/test.sh` once (Chromium, and `npm ci` in tests/e2e).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::net::*;
use crate::common::smtp::SmtpSink;
use crate::common::*;

/// Writes each message the sink receives to `DIR/N.txt` (the recipient on the first line,
/// then the plain-text body) until dropped, for the journeys (in node) to read.
struct MailCopier {
    url: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MailCopier {
    fn start(sink: SmtpSink, dir: PathBuf) -> MailCopier {
        use std::sync::atomic::Ordering;
        let url = sink.url();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut written = 0;
            while !stopped.load(Ordering::SeqCst) {
                let messages = sink.messages();
                for (n, m) in messages.iter().enumerate().skip(written) {
                    let text = format!("{}\n{}", m.to.join(","), m.text_body());
                    // Written whole, then renamed: a reader never sees half a message.
                    let tmp = dir.join(format!("{n}.tmp"));
                    std::fs::write(&tmp, text).unwrap();
                    std::fs::rename(&tmp, dir.join(format!("{n}.txt"))).unwrap();
                }
                written = messages.len();
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        });
        MailCopier {
            url,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for MailCopier {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn node_modules() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e");
    assert!(
        dir.join("node_modules/playwright-core").exists(),
        "tests/e2e/node_modules is missing. Run `bash scripts/test.sh` (as root), or: (cd tests/e2e && npm ci)"
    );
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "Chromium is missing. Run `bash scripts/test.sh` (as root), or: apt-get install -y chromium chromium-driver"
    );
    dir
}

#[test]
fn journeys_and_accessibility_in_chromium() {
    let e2e = node_modules();
    let dir = test_dir();
    let secure_dir = test_dir();
    let (port, secure_port) = (free_port(), free_port());
    let base = format!("http://127.0.0.1:{port}");
    let secure_base = format!("http://127.0.0.1:{secure_port}");
    let sink = SmtpSink::start();
    let maildir = dir.path().join("mail");
    std::fs::create_dir_all(&maildir).unwrap();
    let copier = MailCopier::start(sink, maildir.clone());
    let _plain = start_gatehouse(
        dir.path(),
        port,
        &[
            ("ROCKET_PUBLIC_ORIGIN", base.clone()),
            ("ROCKET_SMTP_URL", copier.url.clone()),
        ],
    );
    let _secure = start_gatehouse(
        secure_dir.path(),
        secure_port,
        &[
            ("ROCKET_PUBLIC_ORIGIN", secure_base.clone()),
            ("ROCKET_SECURE_COOKIES", "true".into()),
        ],
    );
    let shots = std::env::var("GATEHOUSE_SCREENSHOTS")
        .unwrap_or_else(|_| format!("{}/target/screenshots", env!("CARGO_MANIFEST_DIR")));
    let out = Command::new("node")
        .arg(e2e.join("journeys.mjs"))
        .current_dir(&e2e)
        .env("BASE", &base)
        .env("SECURE_BASE", &secure_base)
        .env("WORK", dir.path())
        .env("MAILDIR", &maildir)
        .env("SHOTS", shots)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "browser journeys failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(" 0 failed"), "{stdout}");
}
