//! The benchmark's baseline page (only in `--features bench` builds): the dashboard's
//! template for a fixed user, public. `scripts/test.sh` runs this with the feature on. A test
//! binary of its own: the feature changes the library, so it cannot share `tests/it`.
#![cfg(feature = "bench")]

#[path = "it/common/mod.rs"]
mod common;

use common::*;
use rocket::http::Status;

#[test]
fn the_bench_page_renders_the_dashboard_template_without_a_session() {
    let t = start();
    let r = t.get("/bench/page");
    assert_eq!(r.status(), Status::Ok);
    let body = r.into_string().unwrap();
    assert!(body.contains("data-testid=\"dashboard\""));
    assert!(body.contains("<strong data-testid=\"username\">benchmark</strong>"));
    assert!(body.contains("Last signed in"));
    // The same page as a signed-in dashboard, give or take the names and times.
    t.signed_up("samelength");
    let dash = t.get("/dashboard").into_string().unwrap();
    let ratio = dash.len() as f64 / body.len() as f64;
    assert!(
        (0.9..1.1).contains(&ratio),
        "{} vs {}",
        dash.len(),
        body.len()
    );
}
