//! Drives N signed-in dashboard requests through Rocket in-process, for a profiler:
//! `valgrind --tool=callgrind target/release/examples/profile_dashboard 2000`
//! (see docs/PERFORMANCE.md). No network, so the profile shows gatehouse's own work.

use rocket::http::{ContentType, Header, Status};
use rocket::local::blocking::Client;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
    let path = std::env::args()
        .nth(2)
        .unwrap_or_else(|| "/dashboard".into());
    let dir = tempfile::tempdir().unwrap();
    // The debug profile allows bcrypt cost 4 (the sign-up is not what is profiled).
    let figment = gatehouse::config::figment()
        .select("debug")
        .merge((
            "database_url",
            format!("sqlite://{}/g.db", dir.path().display()),
        ))
        .merge(("data_dir", dir.path().join("data").display().to_string()))
        .merge(("bcrypt_cost", 4))
        .merge(("log_level", "off"))
        .merge(("public_origin", "http://127.0.0.1:8000"));
    let client = Client::untracked(gatehouse::rocket(figment).unwrap()).unwrap();
    // Tokens minted in the second the instance started are revalidated on use: start later.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let page = client.get("/register").dispatch();
    let csrf_cookie = page.cookies().get("csrf").unwrap().value().to_string();
    let html = page.into_string().unwrap();
    let marker = "name=\"csrf_token\" value=\"";
    let at = html.find(marker).unwrap() + marker.len();
    let token: String = html[at..].chars().take_while(|c| *c != '"').collect();
    let r = client
        .post("/register")
        .header(ContentType::Form)
        .header(Header::new("Origin", "http://127.0.0.1:8000"))
        .cookie(rocket::http::Cookie::new("csrf", csrf_cookie))
        .body(format!(
            "username=profiler&email=p%40example.com&password=correct+horse+battery+staple&password_confirm=correct+horse+battery+staple&csrf_token={token}"
        ))
        .dispatch();
    assert_eq!(r.status(), Status::SeeOther);
    let session = r.cookies().get("session").unwrap().value().to_string();
    for _ in 0..n {
        let r = client
            .get(path.clone())
            .cookie(rocket::http::Cookie::new("session", session.clone()))
            .dispatch();
        assert_eq!(r.status(), Status::Ok);
        let _ = r.into_bytes();
    }
}
