//! A real SMTP server for the tests that check gatehouse delivers mail: it listens on
//! 127.0.0.1, speaks enough ESMTP for lettre (EHLO, PIPELINING, 8BITMIME, SMTPUTF8, several
//! messages per connection) and keeps every message it is given, with helpers that undo what a
//! mail client would (folded headers, RFC 2047 subjects, multipart/alternative, quoted-printable
//! and base64 bodies).
//!
//! It can also go away and come back on the same port ([`SmtpSink::stop`],
//! [`SmtpSink::restart`]) and refuse mail for a while ([`SmtpSink::fail_next`]), for the tests of
//! what gatehouse does when the mail server is down.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The largest message the sink takes (advertised as `SIZE`); a bigger one is answered `552`.
pub const MAX_SIZE: usize = 10_485_760;
/// The longest command line; a longer one ends the connection.
const MAX_COMMAND: usize = 64 * 1024;
/// Message lines are read in chunks of at most this much.
const MAX_DATA_CHUNK: usize = 1024 * 1024;
/// A connection that says nothing for this long is closed (lettre's pool keeps idle ones for
/// 60 seconds by default and checks them before reuse).
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// One message as the sink received it.
#[derive(Clone)]
pub struct Message {
    /// The envelope sender (`MAIL FROM`), without the angle brackets; empty for `<>`.
    pub from: String,
    /// The envelope recipients (`RCPT TO`), in order.
    pub to: Vec<String>,
    /// The message as sent after `DATA`, dot-stuffing undone, ending with the CRLF before the
    /// terminating dot.
    pub data: Vec<u8>,
    /// The name the client gave in `EHLO`/`HELO`.
    pub helo: String,
    /// Which connection brought it: the same number for messages sent over one connection.
    pub connection: u64,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("from", &self.from)
            .field("to", &self.to)
            .field("connection", &self.connection)
            .field("data", &self.raw())
            .finish()
    }
}

impl Message {
    /// The message as text (bytes that are not UTF-8 replaced).
    pub fn raw(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }

    /// The first header called `name` (any case), unfolded, as it was sent (not decoded).
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers(name).into_iter().next()
    }

    /// Every header called `name` (any case), unfolded, in order.
    pub fn headers(&self, name: &str) -> Vec<String> {
        parse_entity(&self.raw())
            .headers
            .into_iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
            .collect()
    }

    /// The first header called `name`, unfolded, RFC 2047 encoded-words decoded.
    pub fn decoded_header(&self, name: &str) -> Option<String> {
        self.header(name).map(|v| decode_rfc2047(&v))
    }

    /// The decoded `Subject`. Panics if there is none.
    pub fn subject(&self) -> String {
        self.decoded_header("Subject")
            .unwrap_or_else(|| panic!("the message has no Subject:\n{}", self.raw()))
    }

    /// The `text/plain` part (the whole message if it is not multipart), transfer encoding
    /// and charset undone, line ends as `\n`. Panics if there is no such part.
    pub fn text_body(&self) -> String {
        self.part("text/plain")
            .unwrap_or_else(|| panic!("the message has no text/plain part:\n{}", self.raw()))
    }

    /// The `text/html` part, decoded like [`Message::text_body`], if there is one.
    pub fn html_body(&self) -> Option<String> {
        self.part("text/html")
    }

    fn part(&self, mime: &str) -> Option<String> {
        find_part(&parse_entity(&self.raw()), mime).map(|e| decode_body(&e))
    }

    fn summary(&self) -> String {
        format!(
            "from <{}> to {:?}, subject {:?}",
            self.from,
            self.to,
            self.decoded_header("Subject")
        )
    }
}

struct Shared {
    state: Mutex<State>,
    arrived: Condvar,
}

#[derive(Default)]
struct State {
    messages: Vec<Message>,
    fail_next: usize,
    fail_code: u16,
    /// A handle on each open connection, to shut it down on `stop`.
    open: HashMap<u64, TcpStream>,
    next_connection: u64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

enum Server {
    Running {
        stop: Arc<AtomicBool>,
        /// The listener the accept thread blocks on (a second handle on it), to wake it.
        listener: TcpListener,
        accept: JoinHandle<Vec<JoinHandle<()>>>,
    },
    /// Down: on Linux the port stays bound, but not listening (so connections are refused),
    /// and nobody else can take it before `restart`.
    Stopped { reserved: Option<reserve::Reserved> },
}

/// An SMTP server on 127.0.0.1 that keeps what it is sent. Dropping it stops it.
pub struct SmtpSink {
    shared: Arc<Shared>,
    port: u16,
    server: Mutex<Server>,
}

impl SmtpSink {
    /// Listens on a port of the kernel's choosing (kept bound from then on) and serves each
    /// connection on a thread of its own.
    pub fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("SMTP sink: bind 127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            arrived: Condvar::new(),
        });
        let server = serve(listener, &shared);
        SmtpSink {
            shared,
            port,
            server: Mutex::new(server),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `smtp://127.0.0.1:PORT`, for gatehouse's configuration.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far (since the last [`SmtpSink::clear`]).
    pub fn messages(&self) -> Vec<Message> {
        self.shared.lock().messages.clone()
    }

    /// Waits until at least `n` messages have arrived and returns all of them; panics if they
    /// have not after `timeout`.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Message> {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        while state.messages.len() < n {
            let now = Instant::now();
            if now >= deadline {
                let got: Vec<String> = state.messages.iter().map(Message::summary).collect();
                drop(state);
                panic!(
                    "SMTP sink on port {}: expected at least {n} message(s) within {timeout:?}, \
                     got {}: {got:#?}",
                    self.port,
                    got.len()
                );
            }
            state = self
                .shared
                .arrived
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        state.messages.clone()
    }

    /// Forgets the messages received so far.
    pub fn clear(&self) {
        self.shared.lock().messages.clear();
    }

    /// Answers the next `n` `MAIL FROM` commands with `code` (`451`: try again later; `550`:
    /// refused) instead of accepting them.
    pub fn fail_next(&self, n: usize, code: u16) {
        assert!(
            (400..600).contains(&code),
            "fail_next: {code} is not a failure"
        );
        let mut state = self.shared.lock();
        state.fail_next = n;
        state.fail_code = code;
    }

    /// Stops listening and closes every open connection: from now on connections are refused
    /// and a client in the middle of one sees it closed. Does nothing if already stopped.
    pub fn stop(&self) {
        let mut server = self.server.lock().unwrap_or_else(|e| e.into_inner());
        if let Server::Stopped { .. } = *server {
            return;
        }
        let Server::Running {
            stop,
            listener,
            accept,
        } = std::mem::replace(&mut *server, Server::Stopped { reserved: None })
        else {
            unreachable!()
        };
        stop.store(true, Ordering::SeqCst);
        wake(&listener, self.port);
        drop(listener);
        let connections = accept.join().unwrap_or_default();
        // The listener is closed now; keep the port for `restart`.
        let reserved = reserve::bind(self.port);
        let open: Vec<TcpStream> = self.shared.lock().open.drain().map(|(_, s)| s).collect();
        for stream in open {
            let _ = stream.shutdown(Shutdown::Both);
        }
        for c in connections {
            let _ = c.join();
        }
        *server = Server::Stopped { reserved };
    }

    /// Listens again, on the same port, after [`SmtpSink::stop`]. Does nothing if running.
    pub fn restart(&self) {
        let mut server = self.server.lock().unwrap_or_else(|e| e.into_inner());
        let Server::Stopped { reserved } = &mut *server else {
            return;
        };
        let reserved = reserved.take();
        let listener = match reserved.and_then(reserve::listen) {
            Some(l) => l,
            None => {
                // Not reserved (not Linux, or the port was taken meanwhile): bind it again.
                let deadline = Instant::now() + Duration::from_secs(5);
                loop {
                    match TcpListener::bind(("127.0.0.1", self.port)) {
                        Ok(l) => break l,
                        Err(_) if Instant::now() < deadline => {
                            thread::sleep(Duration::from_millis(50));
                        }
                        Err(e) => {
                            panic!("SMTP sink: cannot listen on port {} again: {e}", self.port)
                        }
                    }
                }
            }
        };
        *server = serve(listener, &self.shared);
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts the accept thread for `listener`.
fn serve(listener: TcpListener, shared: &Arc<Shared>) -> Server {
    let stop = Arc::new(AtomicBool::new(false));
    let handle = listener.try_clone().expect("SMTP sink: clone the listener");
    let accept = {
        let stop = stop.clone();
        let shared = shared.clone();
        thread::Builder::new()
            .name("smtp-sink-accept".into())
            .spawn(move || accept_loop(listener, shared, stop))
            .unwrap()
    };
    Server::Running {
        stop,
        listener: handle,
        accept,
    }
}

/// Accepts until `stop`; returns the connection threads still running.
fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
) -> Vec<JoinHandle<()>> {
    let mut threads: Vec<JoinHandle<()>> = Vec::new();
    loop {
        let accepted = listener.accept();
        if stop.load(Ordering::SeqCst) {
            return threads;
        }
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of descriptors, say: let it pass rather than spin.
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let Ok(handle) = stream.try_clone() else {
            continue;
        };
        let id = {
            let mut state = shared.lock();
            state.next_connection += 1;
            let id = state.next_connection;
            state.open.insert(id, handle);
            id
        };
        threads.retain(|t| !t.is_finished());
        let for_thread = shared.clone();
        let spawned = thread::Builder::new()
            .name(format!("smtp-sink-conn-{id}"))
            .spawn(move || {
                let _ = session(stream, &for_thread, id);
                for_thread.lock().open.remove(&id);
            });
        match spawned {
            Ok(t) => threads.push(t),
            Err(_) => {
                if let Some(s) = shared.lock().open.remove(&id) {
                    let _ = s.shutdown(Shutdown::Both);
                }
            }
        }
    }
}

/// Wakes the accept thread blocked on `listener` (which then sees its stop flag).
fn wake(listener: &TcpListener, port: u16) {
    #[cfg(target_os = "linux")]
    {
        // Shutting a listening socket down makes a blocked accept() return (EINVAL).
        use std::os::fd::AsRawFd;
        let _ = port;
        unsafe {
            libc::shutdown(listener.as_raw_fd(), libc::SHUT_RDWR);
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = listener;
        let _ = TcpStream::connect_timeout(
            &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
            Duration::from_secs(1),
        );
    }
}

#[cfg(target_os = "linux")]
mod reserve {
    //! A TCP socket bound to 127.0.0.1:PORT that does not listen: connections to the port are
    //! refused, and neither the kernel (ports for port 0 or outgoing connections) nor a test
    //! can hand the port to anyone else.
    use std::net::TcpListener;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    pub struct Reserved(OwnedFd);

    pub fn bind(port: u16) -> Option<Reserved> {
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
            if fd < 0 {
                return None;
            }
            let fd = OwnedFd::from_raw_fd(fd);
            // As std does for listeners: the closed connections' TIME_WAIT must not stand in
            // the way.
            let one: libc::c_int = 1;
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_REUSEADDR,
                &one as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
            let addr = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: port.to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(std::net::Ipv4Addr::LOCALHOST).to_be(),
                },
                sin_zero: [0; 8],
            };
            let bound = libc::bind(
                fd.as_raw_fd(),
                &addr as *const libc::sockaddr_in as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            );
            (bound == 0).then_some(Reserved(fd))
        }
    }

    pub fn listen(r: Reserved) -> Option<TcpListener> {
        let ok = unsafe { libc::listen(r.0.as_raw_fd(), 128) } == 0;
        ok.then(|| TcpListener::from(r.0))
    }
}

#[cfg(not(target_os = "linux"))]
mod reserve {
    pub struct Reserved;

    pub fn bind(_port: u16) -> Option<Reserved> {
        None
    }

    pub fn listen(_r: Reserved) -> Option<std::net::TcpListener> {
        None
    }
}

// ---------------------------------------------------------------------------------------------
// The SMTP session

fn reply(w: &mut TcpStream, line: &str) -> io::Result<()> {
    w.write_all(format!("{line}\r\n").as_bytes())
}

/// `MAIL FROM:<a@b> PARAMS` / `RCPT TO:<a@b> PARAMS`: the address and the parameters.
fn parse_path<'a>(args: &'a str, prefix: &str) -> Option<(String, Vec<&'a str>)> {
    let head = args.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let rest = args[prefix.len()..].trim_start();
    let rest = rest.strip_prefix('<')?;
    let end = rest.find('>')?;
    let address = rest[..end].to_string();
    let params = rest[end + 1..].split_whitespace().collect();
    Some((address, params))
}

/// One line, at most `max` bytes; `None` at the end of the stream.
fn read_line(r: &mut BufReader<TcpStream>, max: usize, line: &mut Vec<u8>) -> io::Result<bool> {
    line.clear();
    Ok(r.by_ref().take(max as u64).read_until(b'\n', line)? > 0)
}

fn session(stream: TcpStream, shared: &Shared, id: u64) -> io::Result<()> {
    stream.set_read_timeout(Some(IDLE_TIMEOUT))?;
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let _ = stream.set_nodelay(true);
    let mut r = BufReader::new(stream.try_clone()?);
    let mut w = stream;
    reply(&mut w, "220 localhost ESMTP gatehouse test sink")?;

    let mut helo: Option<String> = None;
    let mut from: Option<String> = None;
    let mut to: Vec<String> = Vec::new();
    let mut line = Vec::new();
    loop {
        if !read_line(&mut r, MAX_COMMAND, &mut line)? {
            return Ok(());
        }
        if !line.ends_with(b"\n") {
            return reply(&mut w, "500 5.5.6 Line too long");
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        let (verb, args) = match text.split_once(' ') {
            Some((v, a)) => (v, a.trim()),
            None => (text, ""),
        };
        match verb.to_ascii_uppercase().as_str() {
            "EHLO" | "HELO" if args.is_empty() => reply(&mut w, "501 5.5.4 Name yourself")?,
            "EHLO" => {
                helo = Some(args.to_string());
                from = None;
                to.clear();
                let lines = format!(
                    "250-localhost greets {args}\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n\
                     250-PIPELINING\r\n250 SIZE {MAX_SIZE}\r\n"
                );
                w.write_all(lines.as_bytes())?;
            }
            "HELO" => {
                helo = Some(args.to_string());
                from = None;
                to.clear();
                reply(&mut w, "250 localhost")?;
            }
            "MAIL" if helo.is_none() => reply(&mut w, "503 5.5.1 Send EHLO first")?,
            "MAIL" if from.is_some() => reply(&mut w, "503 5.5.1 Nested MAIL command")?,
            "MAIL" => match parse_path(args, "FROM:") {
                None => reply(&mut w, "501 5.5.4 Syntax: MAIL FROM:<address>")?,
                Some((address, params)) => {
                    let mut bad = None;
                    for p in &params {
                        let (k, v) = p.split_once('=').unwrap_or((p, ""));
                        match k.to_ascii_uppercase().as_str() {
                            "BODY" | "SMTPUTF8" | "AUTH" | "RET" | "ENVID" => {}
                            "SIZE" if v.parse::<usize>().is_ok_and(|s| s > MAX_SIZE) => {
                                bad = Some("552 5.3.4 Message too big".to_string())
                            }
                            "SIZE" => {}
                            _ => bad = Some(format!("555 5.5.4 Unsupported parameter {p}")),
                        }
                    }
                    let injected = {
                        let mut state = shared.lock();
                        if bad.is_none() && state.fail_next > 0 {
                            state.fail_next -= 1;
                            Some(state.fail_code)
                        } else {
                            None
                        }
                    };
                    if let Some(answer) = bad {
                        reply(&mut w, &answer)?;
                    } else if let Some(code) = injected {
                        reply(
                            &mut w,
                            &format!("{code} {}.3.0 Failure injected by the test", code / 100),
                        )?;
                    } else {
                        from = Some(address);
                        reply(&mut w, "250 2.1.0 Ok")?;
                    }
                }
            },
            "RCPT" if from.is_none() => reply(&mut w, "503 5.5.1 Need MAIL first")?,
            "RCPT" => match parse_path(args, "TO:") {
                Some((address, _)) if !address.is_empty() => {
                    to.push(address);
                    reply(&mut w, "250 2.1.5 Ok")?;
                }
                _ => reply(&mut w, "501 5.5.4 Syntax: RCPT TO:<address>")?,
            },
            "DATA" if !args.is_empty() => reply(&mut w, "501 5.5.4 DATA takes no arguments")?,
            "DATA" if from.is_none() || to.is_empty() => {
                reply(&mut w, "503 5.5.1 Need MAIL and RCPT first")?
            }
            "DATA" => {
                reply(&mut w, "354 End data with <CR><LF>.<CR><LF>")?;
                let Some(data) = read_data(&mut r)? else {
                    reply(&mut w, "552 5.3.4 Message too big")?;
                    from = None;
                    to.clear();
                    continue;
                };
                let queued = {
                    let mut state = shared.lock();
                    state.messages.push(Message {
                        from: from.take().unwrap(),
                        to: std::mem::take(&mut to),
                        data,
                        helo: helo.clone().unwrap_or_default(),
                        connection: id,
                    });
                    shared.arrived.notify_all();
                    state.messages.len()
                };
                reply(&mut w, &format!("250 2.0.0 Ok: queued as {queued}"))?;
            }
            "RSET" => {
                from = None;
                to.clear();
                reply(&mut w, "250 2.0.0 Ok")?;
            }
            "NOOP" => reply(&mut w, "250 2.0.0 Ok")?,
            "QUIT" => {
                reply(&mut w, "221 2.0.0 Bye")?;
                return Ok(());
            }
            _ => reply(&mut w, "502 5.5.2 Command not recognized")?,
        }
    }
}

/// The message after `DATA`, up to the lone dot, dot-stuffing undone; `None` if it is bigger
/// than [`MAX_SIZE`] (read to the end all the same). An error if the stream ends first.
fn read_data(r: &mut BufReader<TcpStream>) -> io::Result<Option<Vec<u8>>> {
    let mut data = Vec::new();
    let mut too_big = false;
    let mut line = Vec::new();
    let mut at_line_start = true;
    loop {
        if !read_line(r, MAX_DATA_CHUNK, &mut line)? {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        if at_line_start && (line == b".\r\n" || line == b".\n") {
            return Ok((!too_big).then_some(data));
        }
        let chunk = match line.strip_prefix(b".") {
            Some(rest) if at_line_start => rest,
            _ => &line[..],
        };
        if data.len() + chunk.len() > MAX_SIZE {
            too_big = true;
            data = Vec::new();
        }
        if !too_big {
            data.extend_from_slice(chunk);
        }
        at_line_start = line.ends_with(b"\n");
    }
}

// ---------------------------------------------------------------------------------------------
// Reading what was sent: MIME entities, transfer encodings, RFC 2047

#[derive(Clone)]
struct Entity {
    /// Unfolded, values trimmed.
    headers: Vec<(String, String)>,
    body: String,
}

impl Entity {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The media type (lowercase; `text/plain` if none is given) and its parameters.
    fn content_type(&self) -> (String, Vec<(String, String)>) {
        match self.header("Content-Type") {
            Some(v) => parse_params(v),
            None => ("text/plain".into(), Vec::new()),
        }
    }
}

fn parse_entity(text: &str) -> Entity {
    let (head, body) = if let Some(rest) = text.strip_prefix("\r\n") {
        ("", rest)
    } else if let Some(rest) = text.strip_prefix('\n') {
        ("", rest)
    } else {
        let crlf = text.find("\r\n\r\n").map(|i| (i, i + 4));
        let lf = text.find("\n\n").map(|i| (i, i + 2));
        match (crlf, lf) {
            (Some(a), Some(b)) => {
                let (end, start) = if a.0 < b.0 { a } else { b };
                (&text[..end], &text[start..])
            }
            (Some((end, start)), None) | (None, Some((end, start))) => {
                (&text[..end], &text[start..])
            }
            (None, None) => (text, ""),
        }
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with([' ', '\t']) {
            // Unfolding removes the line break only.
            if let Some(last) = headers.last_mut() {
                last.1.push_str(line);
            }
        } else if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.to_string()));
        }
    }
    for h in &mut headers {
        h.1 = h.1.trim().to_string();
    }
    Entity {
        headers,
        body: body.to_string(),
    }
}

/// `type/subtype; name=value; name="quoted value"`: the type (lowercase) and the parameters
/// (names lowercase, values unquoted).
fn parse_params(value: &str) -> (String, Vec<(String, String)>) {
    let mut fields = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => quoted = !quoted,
            '\\' if quoted => current.extend(chars.next()),
            ';' if !quoted => fields.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    fields.push(current);
    let mime = fields[0].trim().to_ascii_lowercase();
    let params = fields[1..]
        .iter()
        .filter_map(|f| f.split_once('='))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (mime, params)
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The parts of a multipart body, each without the line break before the next delimiter.
fn split_multipart(body: &str, boundary: &str) -> Vec<String> {
    let open = format!("--{boundary}");
    let close = format!("--{boundary}--");
    let mut parts = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in body.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let bare = line.trim_end();
        if bare == close {
            parts.extend(current.take().map(|l| l.join("\r\n")));
            break;
        } else if bare == open {
            parts.extend(current.take().map(|l| l.join("\r\n")));
            current = Some(Vec::new());
        } else if let Some(lines) = &mut current {
            lines.push(line);
        }
    }
    parts.extend(current.map(|l| l.join("\r\n")));
    parts
}

/// The first entity of type `mime` (not an attachment), looking inside multiparts.
fn find_part(e: &Entity, mime: &str) -> Option<Entity> {
    let (ty, params) = e.content_type();
    if ty.starts_with("multipart/") {
        let boundary = param(&params, "boundary")?;
        split_multipart(&e.body, boundary)
            .iter()
            .find_map(|part| find_part(&parse_entity(part), mime))
    } else {
        let attachment = e
            .header("Content-Disposition")
            .is_some_and(|d| d.trim().to_ascii_lowercase().starts_with("attachment"));
        (ty == mime && !attachment).then(|| e.clone())
    }
}

/// The body of a single-part entity, transfer encoding and charset undone, `\r\n` as `\n`.
fn decode_body(e: &Entity) -> String {
    let encoding = e
        .header("Content-Transfer-Encoding")
        .unwrap_or("7bit")
        .trim()
        .to_ascii_lowercase();
    let text = match encoding.as_str() {
        "quoted-printable" | "base64" => {
            let bytes = if encoding == "base64" {
                let compact: String = e.body.split_whitespace().collect();
                base64_decode(&compact).unwrap_or_else(|| {
                    panic!("the body is not valid base64:\n{}", e.body);
                })
            } else {
                qp_decode(&e.body)
            };
            let (_, params) = e.content_type();
            decode_charset(param(&params, "charset").unwrap_or("utf-8"), &bytes)
        }
        _ => e.body.clone(),
    };
    text.replace("\r\n", "\n")
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    use base64::Engine;
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    LENIENT.decode(s).ok()
}

/// `=XX` escapes (and `_` for a space if `underscore`); a stray `=` stays as it is.
fn unescape_hex(s: &[u8], underscore: bool, out: &mut Vec<u8>) {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'=' => {
                let high = s.get(i + 1).and_then(|&b| hex(b));
                let low = s.get(i + 2).and_then(|&b| hex(b));
                if let (Some(h), Some(l)) = (high, low) {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                out.push(b'=');
            }
            b'_' if underscore => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
}

/// Quoted-printable (RFC 2045 6.7): soft line breaks, `=XX`, trailing white space dropped.
fn qp_decode(body: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let lines: Vec<&str> = body.split('\n').collect();
    for (i, line) in lines.iter().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let line = line.trim_end_matches([' ', '\t']);
        let (line, soft) = match line.strip_suffix('=') {
            Some(l) => (l, true),
            None => (line, false),
        };
        unescape_hex(line.as_bytes(), false, &mut out);
        if !soft && i + 1 < lines.len() {
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

fn decode_charset(charset: &str, bytes: &[u8]) -> String {
    match charset.trim().to_ascii_lowercase().as_str() {
        "iso-8859-1" | "iso8859-1" | "latin1" | "latin-1" => {
            bytes.iter().map(|&b| b as char).collect()
        }
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// One RFC 2047 encoded-word at the start of `s`: its charset, its bytes and its length.
fn encoded_word(s: &str) -> Option<(String, Vec<u8>, usize)> {
    let inner = s.strip_prefix("=?")?;
    let q = inner.find('?')?;
    let charset = &inner[..q];
    if charset.is_empty() || charset.contains(|c: char| c.is_whitespace() || c == '=') {
        return None;
    }
    let after = &inner[q + 1..];
    let encoding = after.get(..1)?;
    let text = after.get(1..)?.strip_prefix('?')?;
    let end = text.find("?=")?;
    let text = &text[..end];
    if text.contains(|c: char| c.is_whitespace()) {
        return None;
    }
    let bytes = match encoding {
        "b" | "B" => base64_decode(text)?,
        "q" | "Q" => {
            let mut out = Vec::new();
            unescape_hex(text.as_bytes(), true, &mut out);
            out
        }
        _ => return None,
    };
    // `charset*language` (RFC 2231).
    let charset = charset.split('*').next().unwrap().to_string();
    Some((charset, bytes, 2 + q + 1 + 2 + end + 2))
}

/// Decodes the RFC 2047 encoded-words in a header value. White space between two encoded-words
/// goes; the bytes of adjacent words in one charset are joined before decoding, so a character
/// split across two words comes out whole.
pub fn decode_rfc2047(s: &str) -> String {
    let mut out = String::new();
    let mut pending: Option<(String, Vec<u8>)> = None;
    let mut gap = String::new();
    let flush = |out: &mut String, pending: &mut Option<(String, Vec<u8>)>| {
        if let Some((charset, bytes)) = pending.take() {
            out.push_str(&decode_charset(&charset, &bytes));
        }
    };
    let mut i = 0;
    while i < s.len() {
        let rest = &s[i..];
        if let Some((charset, bytes, len)) = encoded_word(rest) {
            match &mut pending {
                Some((c, buf)) if c.eq_ignore_ascii_case(&charset) => buf.extend(bytes),
                _ => {
                    flush(&mut out, &mut pending);
                    pending = Some((charset, bytes));
                }
            }
            gap.clear();
            i += len;
            continue;
        }
        let c = rest.chars().next().unwrap();
        if pending.is_some() && c.is_whitespace() {
            gap.push(c);
        } else {
            flush(&mut out, &mut pending);
            out.push_str(&gap);
            gap.clear();
            out.push(c);
        }
        i += c.len_utf8();
    }
    flush(&mut out, &mut pending);
    out.push_str(&gap);
    out
}

// ---------------------------------------------------------------------------------------------

mod tests {
    use super::*;

    const WAIT: Duration = Duration::from_secs(10);

    /// A raw SMTP client, one command and one answer at a time (or several, pipelined).
    struct Client {
        r: BufReader<TcpStream>,
        w: TcpStream,
    }

    impl Client {
        fn connect(port: u16) -> Client {
            let w = TcpStream::connect(("127.0.0.1", port)).unwrap();
            w.set_read_timeout(Some(WAIT)).unwrap();
            let mut c = Client {
                r: BufReader::new(w.try_clone().unwrap()),
                w,
            };
            let (code, text) = c.reply();
            assert_eq!(code, 220, "{text:?}");
            c
        }

        fn send(&mut self, raw: &str) {
            self.w.write_all(raw.as_bytes()).unwrap();
        }

        /// One answer: its code and its lines (without the code).
        fn reply(&mut self) -> (u16, Vec<String>) {
            let mut lines = Vec::new();
            loop {
                let mut line = String::new();
                assert!(
                    self.r.read_line(&mut line).unwrap() > 0,
                    "connection closed"
                );
                let line = line.trim_end();
                let code = line[..3].parse().unwrap();
                lines.push(line[4..].to_string());
                if line.as_bytes()[3] == b' ' {
                    return (code, lines);
                }
                assert_eq!(line.as_bytes()[3], b'-', "{line}");
            }
        }

        fn cmd(&mut self, command: &str) -> (u16, Vec<String>) {
            self.send(&format!("{command}\r\n"));
            self.reply()
        }

        fn ok(&mut self, command: &str, code: u16) {
            let (got, text) = self.cmd(command);
            assert_eq!(got, code, "{command}: {text:?}");
        }

        /// MAIL, RCPT for each of `to`, DATA, the message (dot-stuffed here) and its end.
        fn mail(&mut self, from: &str, to: &[&str], message: &str) {
            self.ok(&format!("MAIL FROM:<{from}>"), 250);
            for t in to {
                self.ok(&format!("RCPT TO:<{t}>"), 250);
            }
            self.ok("DATA", 354);
            let stuffed: Vec<String> = message
                .split("\r\n")
                .map(|l| {
                    if l.starts_with('.') {
                        format!(".{l}")
                    } else {
                        l.to_string()
                    }
                })
                .collect();
            let mut body = stuffed.join("\r\n");
            if !body.ends_with("\r\n") {
                body.push_str("\r\n");
            }
            self.send(&body);
            self.ok(".", 250);
        }
    }

    fn crlf(s: &str) -> String {
        s.replace('\n', "\r\n")
    }

    /// Quoted-printable as a mail library writes it: non-ASCII and `=` escaped, lines of at
    /// most 76 characters with soft breaks.
    fn qp_encode(text: &str) -> String {
        let mut out = String::new();
        for (n, line) in text.split('\n').enumerate() {
            if n > 0 {
                out.push_str("\r\n");
            }
            let mut width = 0;
            for &b in line.as_bytes() {
                let piece = if b == b'=' || !(0x20..0x7f).contains(&b) {
                    format!("={b:02X}")
                } else {
                    (b as char).to_string()
                };
                if width + piece.len() > 75 {
                    out.push_str("=\r\n");
                    width = 0;
                }
                width += piece.len();
                out.push_str(&piece);
            }
        }
        out
    }

    #[test]
    fn plain_message() {
        let sink = SmtpSink::start();
        let mut c = Client::connect(sink.port());
        let (code, ehlo) = c.cmd("EHLO client.test");
        assert_eq!(code, 250);
        for ext in ["8BITMIME", "SMTPUTF8", "PIPELINING", "SIZE 10485760"] {
            assert!(ehlo.iter().any(|l| l == ext), "{ext} not in {ehlo:?}");
        }
        c.ok("NOOP", 250);
        c.ok("VRFY someone", 502);
        c.ok("RCPT TO:<early@example.com>", 503);
        c.ok("DATA", 503);
        c.ok(
            "MAIL FROM:<no-reply@gatehouse.test> BODY=8BITMIME SMTPUTF8",
            250,
        );
        c.ok("MAIL FROM:<again@gatehouse.test>", 503);
        c.ok("RCPT TO:<alice@example.com>", 250);
        c.ok("rcpt to:<bob@example.com>", 250);
        c.ok("DATA", 354);
        c.send(&crlf(
            "From: Gatehouse <no-reply@gatehouse.test>\nTo: alice@example.com\n\
             Subject: Welcome\nX-Folded: first part\n\tand second part\n\
             x-folded: another\n\nHello Alice,\n\nwelcome aboard.\n.\n",
        ));
        let (code, text) = c.reply();
        assert_eq!(code, 250, "{text:?}");
        c.ok("QUIT", 221);

        let messages = sink.wait_for(1, WAIT);
        assert_eq!(messages.len(), 1);
        let m = &messages[0];
        assert_eq!(m.from, "no-reply@gatehouse.test");
        assert_eq!(m.to, ["alice@example.com", "bob@example.com"]);
        assert_eq!(m.helo, "client.test");
        assert_eq!(m.subject(), "Welcome");
        assert_eq!(m.header("to").as_deref(), Some("alice@example.com"));
        assert_eq!(
            m.header("X-FOLDED").as_deref(),
            Some("first part\tand second part")
        );
        assert_eq!(m.headers("x-folded").len(), 2);
        assert_eq!(m.header("Cc"), None);
        assert_eq!(m.text_body(), "Hello Alice,\n\nwelcome aboard.\n");
        assert_eq!(m.html_body(), None);
        assert!(m.raw().ends_with("welcome aboard.\r\n"));

        // The null sender and HELO.
        let mut c = Client::connect(sink.port());
        c.ok("MAIL FROM:<>", 503);
        c.ok("HELO old.client", 250);
        c.ok("MAIL FROM:<> SIZE=20000000", 552);
        c.ok("MAIL FROM:<> FOO=BAR", 555);
        c.ok("MAIL FROM:<>", 250);
        c.ok("RCPT TO:<>", 501);
        c.ok("RCPT TO:<postmaster@example.com>", 250);
        c.ok("DATA", 354);
        c.ok("Subject: bounce\r\n\r\nbody\r\n.", 250);
        let m = &sink.wait_for(2, WAIT)[1];
        assert_eq!(m.from, "");
        assert_eq!(m.helo, "old.client");
        assert_eq!(m.subject(), "bounce");
        sink.clear();
        assert!(sink.messages().is_empty());
    }

    #[test]
    fn multipart_alternative_korean() {
        use base64::Engine;
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let subject = "[gatehouse] 이메일 주소를 확인해 주세요";
        // Split in the middle of a character, as some encoders do: the words must be joined
        // before decoding.
        let bytes = subject.as_bytes();
        let cut = "[gatehouse] 이".len() + 1;
        let word = |b: &[u8]| {
            format!(
                "=?utf-8?b?{}?=",
                base64::engine::general_purpose::STANDARD.encode(b)
            )
        };
        let link = "https://login.example.com/verify?token=abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let text = format!("안녕하세요 민수님,\n\n이메일 주소를 확인하려면 다음 링크를 여세요:\n{link}\n\n= 끝 =\n");
        let html = format!("<p>안녕하세요 민수님,</p>\n<p><a href=\"{link}\">확인</a></p>\n");
        let html_b64: Vec<String> = b64(&html)
            .as_bytes()
            .chunks(76)
            .map(|c| String::from_utf8(c.to_vec()).unwrap())
            .collect();
        let message = format!(
            "From: =?utf-8?q?Gatehouse_=ED=85=8C=EC=8A=A4=ED=8A=B8?= <no-reply@gatehouse.test>\r\n\
             To: minsu@example.com\r\n\
             Subject: {}\r\n {}\r\n\
             MIME-Version: 1.0\r\n\
             Content-Type: multipart/alternative;\r\n boundary=\"=_b0undary\"\r\n\
             \r\n\
             This is a multi-part message.\r\n\
             --=_b0undary\r\n\
             Content-Type: text/plain; charset=\"utf-8\"\r\n\
             Content-Transfer-Encoding: quoted-printable\r\n\
             \r\n\
             {}\r\n\
             --=_b0undary\r\n\
             Content-Type: text/html; charset=utf-8\r\n\
             Content-Transfer-Encoding: base64\r\n\
             \r\n\
             {}\r\n\
             --=_b0undary--\r\n",
            word(&bytes[..cut]),
            word(&bytes[cut..]),
            qp_encode(&text),
            html_b64.join("\r\n"),
        );
        assert!(message.contains("=\r\n"), "no soft line break to test");

        let sink = SmtpSink::start();
        let mut c = Client::connect(sink.port());
        c.ok("EHLO client.test", 250);
        c.mail("no-reply@gatehouse.test", &["minsu@example.com"], &message);
        let m = &sink.wait_for(1, WAIT)[0];
        assert_eq!(m.subject(), subject);
        assert_eq!(
            m.decoded_header("From").as_deref(),
            Some("Gatehouse 테스트 <no-reply@gatehouse.test>")
        );
        assert_eq!(m.text_body(), text);
        assert_eq!(m.html_body().as_deref(), Some(html.as_str()));

        // Plain RFC 2047 cases.
        assert_eq!(
            decode_rfc2047("=?UTF-8?Q?caf=C3=A9_au_lait?="),
            "café au lait"
        );
        assert_eq!(decode_rfc2047("a =?utf-8?q?b?=  =?utf-8?q?c?= d"), "a bc d");
        assert_eq!(decode_rfc2047("=?iso-8859-1?q?=E9t=E9?="), "été");
        assert_eq!(decode_rfc2047("not =?encoded"), "not =?encoded");
    }

    #[test]
    fn dot_stuffing_is_undone() {
        let sink = SmtpSink::start();
        let mut c = Client::connect(sink.port());
        c.ok("EHLO client.test", 250);
        c.ok("MAIL FROM:<a@example.com>", 250);
        c.ok("RCPT TO:<b@example.com>", 250);
        c.ok("DATA", 354);
        // As sent: a line that is a dot, one that starts with one, one with two.
        c.send("Subject: dots\r\n\r\nbefore\r\n..\r\n..hidden\r\n...two\r\nmid.dle\r\n.\r\n");
        assert_eq!(c.reply().0, 250);
        let m = &sink.wait_for(1, WAIT)[0];
        assert_eq!(m.text_body(), "before\n.\n.hidden\n..two\nmid.dle\n");

        // The same through the client helper, which stuffs.
        let body = "Subject: dots again\r\n\r\n.\r\n.leading\r\nend";
        c.mail("a@example.com", &["b@example.com"], body);
        let m = &sink.wait_for(2, WAIT)[1];
        assert_eq!(m.raw(), format!("{body}\r\n"));
    }

    #[test]
    fn several_messages_on_one_connection_pipelined() {
        let sink = SmtpSink::start();
        let mut c = Client::connect(sink.port());
        c.ok("EHLO client.test", 250);
        for n in 1..=3 {
            // One write for the whole envelope, as a PIPELINING client does.
            c.send(&format!(
                "MAIL FROM:<a@example.com> BODY=8BITMIME\r\nRCPT TO:<b{n}@example.com>\r\n\
                 RCPT TO:<c{n}@example.com>\r\nDATA\r\n"
            ));
            for code in [250, 250, 250, 354] {
                assert_eq!(c.reply().0, code);
            }
            c.send(&format!("Subject: number {n}\r\n\r\nbody {n}\r\n.\r\n"));
            assert_eq!(c.reply().0, 250);
            if n == 2 {
                c.ok("MAIL FROM:<abandoned@example.com>", 250);
                c.ok("RSET", 250);
            }
        }
        let messages = sink.wait_for(3, WAIT);
        assert_eq!(messages.len(), 3);
        for (i, m) in messages.iter().enumerate() {
            let n = i + 1;
            assert_eq!(m.subject(), format!("number {n}"));
            assert_eq!(
                m.to,
                [format!("b{n}@example.com"), format!("c{n}@example.com")]
            );
            assert_eq!(m.text_body(), format!("body {n}\n"));
            assert_eq!(m.connection, messages[0].connection);
        }
        c.ok("QUIT", 221);

        // Another connection is another number.
        let mut c = Client::connect(sink.port());
        c.ok("EHLO client.test", 250);
        c.mail(
            "a@example.com",
            &["d@example.com"],
            "Subject: four\r\n\r\nx",
        );
        let m = &sink.wait_for(4, WAIT)[3];
        assert_ne!(m.connection, messages[0].connection);
    }

    #[test]
    fn stop_and_restart_on_the_same_port() {
        let sink = SmtpSink::start();
        let port = sink.port();
        let mut open = Client::connect(port);
        open.ok("EHLO client.test", 250);
        open.mail(
            "a@example.com",
            &["b@example.com"],
            "Subject: before\r\n\r\nx",
        );
        open.ok("MAIL FROM:<a@example.com>", 250);

        sink.stop();
        // The open connection is closed under the client...
        let mut buf = [0u8; 16];
        match open.r.read(&mut buf) {
            Ok(0) | Err(_) => {}
            Ok(n) => panic!("read {n} bytes from a stopped sink"),
        }
        // ... and new ones are refused.
        let err = TcpStream::connect(("127.0.0.1", port)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err}");
        sink.stop(); // twice is fine

        sink.restart();
        assert_eq!(sink.port(), port);
        let mut c = Client::connect(port);
        c.ok("EHLO client.test", 250);
        c.mail(
            "a@example.com",
            &["b@example.com"],
            "Subject: after\r\n\r\nx",
        );
        let subjects: Vec<String> = sink.wait_for(2, WAIT).iter().map(|m| m.subject()).collect();
        assert_eq!(subjects, ["before", "after"]);
        sink.restart(); // running already: nothing happens
        c.ok("NOOP", 250);

        // Down and up again, with a connection left open by the client this time.
        sink.stop();
        sink.restart();
        let mut c = Client::connect(port);
        c.ok("EHLO client.test", 250);
        drop(sink);
        let err = TcpStream::connect(("127.0.0.1", port)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err}");
        match c.r.read(&mut buf) {
            Ok(0) | Err(_) => {}
            Ok(n) => panic!("read {n} bytes from a dropped sink"),
        }
    }

    #[test]
    fn fail_next_refuses_mail_for_a_while() {
        let sink = SmtpSink::start();
        sink.fail_next(2, 451);
        let mut c = Client::connect(sink.port());
        c.ok("EHLO client.test", 250);
        let (code, text) = c.cmd("MAIL FROM:<a@example.com>");
        assert_eq!(code, 451, "{text:?}");
        assert!(text[0].starts_with("4.3.0"), "{text:?}");
        c.ok("RCPT TO:<b@example.com>", 503);
        c.ok("RSET", 250);
        // A new connection counts too.
        let mut c2 = Client::connect(sink.port());
        c2.ok("EHLO client.test", 250);
        c2.ok("MAIL FROM:<a@example.com>", 451);
        c2.mail(
            "a@example.com",
            &["b@example.com"],
            "Subject: third try\r\n\r\nx",
        );
        assert_eq!(sink.wait_for(1, WAIT)[0].subject(), "third try");

        sink.fail_next(1, 550);
        c.ok("MAIL FROM:<a@example.com>", 550);
        c.mail(
            "a@example.com",
            &["b@example.com"],
            "Subject: fine\r\n\r\nx",
        );
        assert_eq!(sink.wait_for(2, WAIT).len(), 2);
    }

    #[test]
    #[should_panic(expected = "expected at least 1 message(s)")]
    fn wait_for_panics_on_timeout() {
        let sink = SmtpSink::start();
        sink.wait_for(1, Duration::from_millis(200));
    }

    #[test]
    fn wait_for_wakes_when_a_message_arrives() {
        let sink = SmtpSink::start();
        let port = sink.port();
        let sender = thread::spawn(move || {
            thread::sleep(Duration::from_millis(100));
            let mut c = Client::connect(port);
            c.ok("EHLO client.test", 250);
            c.mail(
                "a@example.com",
                &["b@example.com"],
                "Subject: late\r\n\r\nx",
            );
            c.ok("QUIT", 221);
        });
        assert_eq!(sink.wait_for(1, WAIT)[0].subject(), "late");
        sender.join().unwrap();
    }

    /// The client gatehouse uses, end to end: pooled connections, a Korean multipart message,
    /// a temporary failure, the server down and back.
    #[test]
    fn lettre_delivers_to_the_sink() {
        use lettre::message::MultiPart;
        use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

        let sink = SmtpSink::start();
        let subject = "[gatehouse] 이메일 주소를 확인해 주세요";
        let text = "안녕하세요 민수님,\n\n다음 링크를 여세요: https://login.example.com/verify?token=abc=def\n";
        let html = "<p>안녕하세요 민수님,</p>\n<p><a href=\"https://login.example.com/verify?token=abc=def\">확인</a></p>\n";
        let email = |n: usize| {
            lettre::Message::builder()
                .from("Gatehouse <no-reply@gatehouse.test>".parse().unwrap())
                .to(format!("민수 <minsu{n}@example.com>").parse().unwrap())
                .subject(subject)
                .multipart(MultiPart::alternative_plain_html(
                    text.to_string(),
                    html.to_string(),
                ))
                .unwrap()
        };
        let runtime = rocket::tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            // The pool spawns a task: build (and drop) the transport inside the runtime.
            let mailer: AsyncSmtpTransport<Tokio1Executor> =
                AsyncSmtpTransport::<Tokio1Executor>::from_url(&sink.url())
                    .unwrap()
                    .build();
            mailer.send(email(1)).await.unwrap();
            // lettre puts the connection back in its pool from a task of its own: let it run.
            rocket::tokio::time::sleep(Duration::from_millis(50)).await;
            mailer.send(email(2)).await.unwrap();
            let messages = sink.wait_for(2, WAIT);
            for (i, m) in messages.iter().enumerate() {
                assert_eq!(m.from, "no-reply@gatehouse.test");
                assert_eq!(m.to, [format!("minsu{}@example.com", i + 1)]);
                assert_eq!(m.subject(), subject);
                assert_eq!(m.text_body(), text);
                assert_eq!(m.html_body().as_deref(), Some(html));
            }
            assert_eq!(messages[0].connection, messages[1].connection, "pooled");

            sink.fail_next(1, 451);
            let err = mailer.send(email(3)).await.unwrap_err();
            assert!(err.is_transient(), "{err}");
            mailer.send(email(3)).await.unwrap();

            sink.stop();
            assert!(mailer.send(email(4)).await.is_err());
            sink.restart();
            mailer.send(email(4)).await.unwrap();
            let messages = sink.wait_for(4, WAIT);
            assert_eq!(messages[3].to, ["minsu4@example.com"]);
        });
    }
}
