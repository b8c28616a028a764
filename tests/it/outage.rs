//! PostgreSQL going away and coming back: 503 pages and `/healthz` 503 meanwhile, and the app
//! recovers by itself. The database sits behind a TCP relay the test can cut.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::*;
use rocket::http::Status;

/// A TCP relay to PostgreSQL that can be cut (every connection closed, new ones refused)
/// and restored on the same port.
struct Relay {
    port: u16,
    target: String,
    up: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
    /// The thread that holds the listener: when it has ended, new connections are refused.
    accepting: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Relay {
    fn start(target: &str) -> Relay {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let relay = Relay {
            port,
            target: target.to_string(),
            up: Arc::new(AtomicBool::new(false)),
            conns: Arc::new(Mutex::new(Vec::new())),
            accepting: Mutex::new(None),
        };
        relay.restore();
        relay
    }

    fn restore(&self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        self.up.store(true, Ordering::SeqCst);
        let (up, conns, target) = (self.up.clone(), self.conns.clone(), self.target.clone());
        let accepting = std::thread::spawn(move || {
            while up.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).unwrap();
                        let Ok(server) = TcpStream::connect(&target) else {
                            continue;
                        };
                        for s in [&client, &server] {
                            conns.lock().unwrap().push(s.try_clone().unwrap());
                        }
                        pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
                        pipe(server, client);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
            // The listener drops here: new connections are refused.
        });
        *self.accepting.lock().unwrap() = Some(accepting);
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for s in self.conns.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
        if let Some(accepting) = self.accepting.lock().unwrap().take() {
            accepting.join().unwrap();
        }
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16384];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 || to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Both);
    });
}

#[test]
fn postgres_outage_gives_503_and_the_app_recovers() {
    with_backend(TestBackend::Postgres, || {
        let base = postgres_url().unwrap();
        // postgres://user@HOST:PORT/db... -> HOST:PORT
        let host_port = base
            .split('@')
            .nth(1)
            .unwrap()
            .split('/')
            .next()
            .unwrap()
            .to_string();
        let relay = Relay::start(&host_port);
        let dir = std::sync::Arc::new(test_dir());
        let url =
            database_url(dir.path()).replace(&host_port, &format!("127.0.0.1:{}", relay.port));
        let t = start_in(
            dir,
            std::sync::Arc::new(gatehouse::clock::ManualClock::new()),
            |f| {
                f.merge(("database_url", url.clone()))
                    .merge(("db_connect_timeout", 1))
                    .merge(("db_pool_size", 4))
            },
        );
        t.signed_up("otto");
        assert_eq!(t.get("/healthz").status(), Status::Ok);

        relay.cut();
        let r = t.get("/healthz");
        assert_eq!(r.status(), Status::ServiceUnavailable);
        drop(r);
        // A session due for its database check cannot be checked: 503, never the dashboard.
        t.clock.advance(61);
        let r = t.get("/dashboard");
        assert_eq!(r.status(), Status::ServiceUnavailable);
        assert!(r.headers().get_one("Retry-After").is_some());
        assert!(r.into_string().unwrap().contains("Temporarily unavailable"));
        // Sign-in needs the database too: 503, not 500 and not "wrong password".
        let other = Browser::default();
        assert_eq!(
            other.login(&t, "otto", PASSWORD).status(),
            Status::ServiceUnavailable
        );

        relay.restore();
        // Connections that died with the outage are re-checked before reuse: no 5xx after.
        let mut statuses = Vec::new();
        for _ in 0..6 {
            statuses.push(t.get("/healthz").status());
        }
        assert!(statuses.iter().all(|s| *s == Status::Ok), "{statuses:?}");
        assert_eq!(t.get("/dashboard").status(), Status::Ok);
        assert_eq!(other.login(&t, "otto", PASSWORD).status(), Status::SeeOther);
    });
}
