//! A seeded mutation fuzz of dbd_server's request handling: thousands of
//! requests made from valid ones by flipping, inserting, deleting,
//! repeating and splicing bytes in request lines, headers and bodies. No
//! answer may be a 5xx, every error must be the JSON error body, streams
//! must be whole, the server's memory must stay bounded, and it must still
//! answer afterwards. Reproduce a failure with the seed it prints:
//! `DBDUMP_FUZZ_SEED=<seed> cargo test -p dbdump-tests --test fuzz`
//! (`DBDUMP_FUZZ_CASES` changes the number of cases).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use dbdump_tests::edge::proc_status;
use dbdump_tests::*;

/// xorshift64*: small, fast, and the same sequence everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Valid requests to start from; `DB` stands for the test database.
const SEEDS: &[&str] = &[
    "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    "GET /DB/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAccept: */*\r\n\r\n",
    "GET /DB/t/?since=2020-01-01+00:00:00&after_key=[1]&include_columns=id,name HTTP/1.1\r\nHost: x\r\n\r\n",
    "GET /DB/t/?exclude_columns=name HTTP/1.0\r\nAuthorization: Basic Zm9vOmJhcg==\r\n\r\n",
    "GET /DB/t/?since=2020-01-01T00:00:00%2B02:00 HTTP/1.1\r\nX-A: b\r\nX-A: c\r\n\r\n",
    "GET /DB/t?since=2020-01-01&after_key=%5B%22x%22%5D HTTP/1.1\r\nHost: x\r\n\r\n",
    "POST /DB/t/ HTTP/1.1\r\nContent-Length: 11\r\nContent-Type: text/plain\r\n\r\nhello world",
    "PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "HEAD /DB/ HTTP/1.1\r\nHost: x\r\n\r\n",
    "GET /%41b%2F/t%zz/ HTTP/1.1\r\nHost: x\r\n\r\n",
];

/// Bytes and pieces that parsers trip over.
const TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"\n",
    b"\r",
    b"\0",
    b" ",
    b"\t",
    b":",
    b"/",
    b"//",
    b"?",
    b"&",
    b"=",
    b"%",
    b"%00",
    b"%zz",
    b"%2F",
    b"+",
    b"..",
    b"[",
    b"]",
    b"[1,\"x\"]",
    b"[null]",
    b"\"",
    b"\\",
    b"\xff",
    b"\xc3\x28",
    b"\xe2\x82",
    "é😀".as_bytes(),
    b"99999999999999999999999",
    b"-1",
    b"0000-00-00",
    b"9999-12-31 23:59:59.9999999",
    b"HTTP/1.1",
    b"HTTP/2.0",
    b"GET",
    b"since=",
    b"after_key=",
    b"include_columns=",
    b"exclude_columns=",
    b"Content-Length: 99999999\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Authorization: Basic !!!\r\n",
    b"Host:\r\n",
    b"X:\r\n",
    b": no-name\r\n",
    b"Name : space\r\n",
];

/// One mutated request.
fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut req = rng.pick(seeds).clone();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(req.len() + 1);
        match rng.below(9) {
            0 if !req.is_empty() => {
                let i = rng.below(req.len());
                req[i] = rng.next() as u8;
            }
            1 => {
                let token = rng.pick(TOKENS).to_vec();
                req.splice(at..at, token);
            }
            2 => {
                let end = (at + 1 + rng.below(16)).min(req.len());
                req.drain(at.min(end)..end);
            }
            3 => {
                // Repeat a piece: long lines, many headers, huge heads.
                let end = (at + 1 + rng.below(24)).min(req.len());
                let piece = req[at.min(end)..end].to_vec();
                let times = *rng.pick(&[2, 10, 100, 1000, 3000]);
                let repeated: Vec<u8> = piece
                    .iter()
                    .copied()
                    .cycle()
                    .take(piece.len() * times)
                    .collect();
                req.splice(at..at, repeated);
            }
            4 => {
                let other = rng.pick(seeds);
                let from = rng.below(other.len());
                let piece = other[from..(from + 1 + rng.below(40)).min(other.len())].to_vec();
                req.splice(at..at, piece);
            }
            5 => req.truncate(at),
            6 => {
                let fixed: Vec<u8> = String::from_utf8_lossy(&req)
                    .replace("\r\n", "\n")
                    .into_bytes();
                req = fixed;
            }
            7 => {
                let junk: Vec<u8> = (0..1 + rng.below(64)).map(|_| rng.next() as u8).collect();
                req.splice(at..at, junk);
            }
            _ => {
                let header = format!(
                    "X-Fuzz-{}: {}\r\n",
                    rng.below(1000),
                    "v".repeat(rng.below(3000))
                );
                let body_start = find(&req, b"\r\n\r\n").unwrap_or(req.len());
                let at = find(&req, b"\r\n").map_or(0, |i| i + 2).min(body_start);
                req.splice(at..at, header.into_bytes());
            }
        }
    }
    req
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Sends `req`, says it is done, and reads the answer until the server
/// closes.
fn exchange(port: u16, req: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    // A refused write (the server answered early and closed) is fine: the
    // answer is what counts.
    let _ = s.write_all(req);
    let _ = s.shutdown(Shutdown::Write);
    let mut raw = Vec::new();
    let _ = s.take(4 << 20).read_to_end(&mut raw);
    raw
}

/// What is wrong with `raw` as an answer to `req`, if anything.
fn check(req: &[u8], raw: &[u8]) -> Result<(), String> {
    if raw.is_empty() {
        // Only a client that said nothing gets nothing back.
        return match req.is_empty() {
            true => Ok(()),
            false => Err("no answer".into()),
        };
    }
    let split = find(raw, b"\r\n\r\n").ok_or("no end of the response head")?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let body = &raw[split + 4..];
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or("no status")?;
    if status >= 500 {
        return Err(format!("status {status}"));
    }
    let header = |name: &str| {
        head.lines()
            .find_map(|l| {
                l.split_once(':')
                    .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            })
            .map(|(_, v)| v.trim().to_string())
    };
    // The server skips empty lines before the request line, as it should.
    let start = req
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(0);
    let head_only = req[start..].starts_with(b"HEAD ");
    if let Some(len) = header("content-length") {
        let len: usize = len.parse().map_err(|_| "bad Content-Length")?;
        if !head_only && len != body.len() {
            return Err(format!("Content-Length {len}, body {}", body.len()));
        }
    }
    if head_only {
        return Ok(());
    }
    let text = std::str::from_utf8(body).map_err(|_| "body is not UTF-8")?;
    let last: serde_json::Value = text
        .lines()
        .rfind(|l| !l.is_empty())
        .and_then(|l| serde_json::from_str(l).ok())
        .ok_or("body does not end in a JSON line")?;
    match status {
        200 if header("content-type").as_deref() == Some("application/x-ndjson") => last
            .get("trailer")
            .map(|_| ())
            .ok_or("stream without its trailer".into()),
        200 => Ok(()),
        _ if last["status"] == status && last["error"].is_string() => Ok(()),
        _ => Err(format!("error body {text:?}")),
    }
}

fn shown(bytes: &[u8]) -> String {
    let text = format!("{:?}", String::from_utf8_lossy(bytes));
    match text.char_indices().nth(600) {
        Some((cut, _)) => format!("{}… ({} bytes)", &text[..cut], bytes.len()),
        None => text,
    }
}

#[test]
fn mutated_requests_never_get_a_5xx_nor_grow_or_break_the_server() {
    let (src, _) = pair();
    // Of one length in every run: the mutations depend on the seeds' bytes.
    let db = format!("{:_<24}", unique_name("fuzz"));
    src.exec(&format!(
        "CREATE DATABASE {0}; USE {0};
         CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20),
           ts TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP, KEY (ts));
         INSERT INTO t SELECT seq, CONCAT('row ', seq), '2020-01-01' + INTERVAL seq MINUTE FROM seq_1_to_50",
        ident(&db)
    ));
    let server = Server::start(
        src,
        &["--source-databases", &db, "--listen-max-per-client", "16"],
    );
    let seeds: Vec<Vec<u8>> = SEEDS
        .iter()
        .map(|s| s.replace("DB", &db).into_bytes())
        .collect();
    let seed = env_number("DBDUMP_FUZZ_SEED", 0x00db_d0fe);
    let cases = env_number("DBDUMP_FUZZ_CASES", 3000);
    let mut rng = Rng(seed.max(1));
    let pid = server.child.id();
    // The first answers warm up the pool and the buffers.
    for req in &seeds {
        exchange(server.port, req);
    }
    let rss_before = proc_status(pid, "VmRSS");
    let mut rss_max = rss_before;
    let mut statuses = std::collections::BTreeMap::new();
    for case in 0..cases {
        let req = mutate(&mut rng, &seeds);
        let raw = exchange(server.port, &req);
        if let Err(why) = check(&req, &raw) {
            panic!(
                "seed {seed} case {case}: {why}\nrequest: {}\nanswer: {}\nserver log tail:\n{}",
                shown(&req),
                shown(&raw),
                server
                    .log_text()
                    .lines()
                    .rev()
                    .take(5)
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
        let status = String::from_utf8_lossy(raw.get(9..12).unwrap_or(b"---")).into_owned();
        *statuses.entry(status).or_insert(0) += 1;
        if case % 250 == 0 {
            rss_max = rss_max.max(proc_status(pid, "VmRSS"));
        }
    }
    rss_max = rss_max.max(proc_status(pid, "VmRSS"));
    eprintln!("seed {seed}: {cases} cases, statuses {statuses:?}, server RSS {rss_before} kB before, {rss_max} kB at most");
    assert!(
        statuses.len() >= 5,
        "the mutations reach several answers: {statuses:?}"
    );
    assert!(
        rss_max < rss_before + 64 * 1024,
        "server RSS grew from {rss_before} kB to {rss_max} kB"
    );
    assert!(server_alive(&server), "{}", server.log_text());
    assert_eq!(http_get(server.port, &format!("/{db}/"), &[]).0, 200);
}

fn server_alive(server: &Server) -> bool {
    std::path::Path::new(&format!("/proc/{}", server.child.id())).exists()
        && !std::fs::read_to_string(format!("/proc/{}/status", server.child.id()))
            .unwrap_or_default()
            .contains("State:\tZ")
}
