//! The browser is the judge: tests/e2e/journeys.mjs drives headless Chromium (Debian's
//! package) through sign-up, sign-in, remember-me across restarts, revocation, cross-site
//! posts, the CSP, JavaScript off, two languages, small screens, and axe-core on every page.
//! Needs `bash scripts/test.sh` once (Chromium, and `npm ci` in tests/e2e).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::net::*;
use crate::common::*;

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
    let _plain = start_gatehouse(dir.path(), port, &[("ROCKET_PUBLIC_ORIGIN", base.clone())]);
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
