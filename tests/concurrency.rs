//! Many writers at once: no "database is locked", no 500, nothing half-written.

mod common;

use common::*;
use rocket::http::{ContentType, Header, Status};
use rocket::local::asynchronous::Client;

fn runtime() -> rocket::tokio::runtime::Runtime {
    rocket::tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}

backend_tests! {
    #[test]
    fn concurrent_registrations_and_sign_ins_all_succeed() {
        let dir = tempfile::tempdir().unwrap();
        let f = figment(dir.path()).merge(("register_ip_max", 1000));
        runtime().block_on(async {
            let client = Client::untracked(gatehouse::rocket(f).unwrap()).await.unwrap();
            // One pre-session cookie and token, shared by all the concurrent forms.
            let r = client.get("/register").dispatch().await;
            let cookie = r.cookies().get("csrf").unwrap().value().to_string();
            let csrf = field_value(&r.into_string().await.unwrap(), "csrf_token").unwrap();
            let n = 24;
            let registrations = (0..n).map(|i| {
                let name = format!("user{i:02}");
                let body = encode(&[
                    ("username", &name),
                    ("email", &format!("{name}@example.com")),
                    ("password", PASSWORD),
                    ("password_confirm", PASSWORD),
                    ("csrf_token", &csrf),
                ]);
                client
                    .post("/register")
                    .header(ContentType::Form)
                    .header(Header::new("Origin", ORIGIN))
                    .cookie(rocket::http::Cookie::new("csrf", cookie.clone()))
                    .body(body)
                    .dispatch()
            });
            let statuses: Vec<Status> = rocket::futures::future::join_all(registrations)
                .await
                .iter()
                .map(|r| r.status())
                .collect();
            assert!(statuses.iter().all(|s| *s == Status::SeeOther), "{statuses:?}");
            // And everyone signs in at once, each sign-in writing a session, a throttle reset
            // and an audit row.
            let logins = (0..n).map(|i| {
                let body = encode(&[("username", &format!("user{i:02}")), ("password", PASSWORD), ("csrf_token", &csrf)]);
                client
                    .post("/login")
                    .header(ContentType::Form)
                    .header(Header::new("Origin", ORIGIN))
                    .cookie(rocket::http::Cookie::new("csrf", cookie.clone()))
                    .body(body)
                    .dispatch()
            });
            let statuses: Vec<Status> = rocket::futures::future::join_all(logins)
                .await
                .iter()
                .map(|r| r.status())
                .collect();
            assert!(statuses.iter().all(|s| *s == Status::SeeOther), "{statuses:?}");
            let app = client.rocket().state::<gatehouse::App>().unwrap();
            let mut conn = app.db.get().unwrap();
            use diesel::prelude::*;
            use gatehouse::db::schema::{sessions, users};
            let u: i64 = users::table.count().get_result(&mut *conn).unwrap();
            let s: i64 = sessions::table.count().get_result(&mut *conn).unwrap();
            assert_eq!((u, s), (n, 2 * n));
        });
        drop_schema(dir.path());
    }
}
