//! gzip on the wire: curl `--compressed` reads the same stream and digest as
//! a plain client gets, the puller syncs alike compressed or not (and reads
//! far fewer bytes compressed; by default not from a source on loopback), a slow client gets harder compression of
//! the same rows, and a compressed stream cut off anywhere, even right
//! before gzip's own trailer, is an error, never a short success.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dbdump_shared::adaptive_gzip::MIN_LEVEL;
use dbdump_shared::gzip::Decoded;

use dbdump_tests::*;

const TABLE: &str = "CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(60) NOT NULL, amount DECIMAL(10,2),
    ts TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3), KEY (ts))";

/// A source table of `rows` rows with timestamps in the past, its empty
/// copy, and a server.
fn setup(prefix: &str, rows: u32) -> (String, String, Server) {
    setup_pair(
        prefix,
        &format!(
            "{TABLE}; INSERT INTO t SELECT seq, CONCAT('customer ', seq % 97, ' ', MD5(seq)), seq / 7,
               '2020-01-01' + INTERVAL seq SECOND FROM seq_1_to_{rows}"
        ),
    )
}

fn curl(args: &[&str]) -> Vec<u8> {
    let out = Command::new("curl")
        .args(["-s", "--fail-with-body"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("curl runs");
    assert!(out.status.success(), "curl {args:?}: {}", out.status);
    out.stdout
}

/// A stream with its header's `horizon` blanked: a digest tells the time of
/// its own reading, which differs from one request to the next.
fn without_horizon(body: Vec<u8>) -> Vec<u8> {
    let text = String::from_utf8(body).expect("NDJSON is text");
    let Some(at) = text.find("\"horizon\":\"") else {
        return text.into_bytes();
    };
    let value = at + "\"horizon\":\"".len();
    let end = value + text[value..].find('"').expect("a closed horizon");
    format!("{}{}", &text[..value], &text[end..]).into_bytes()
}

/// A response as raw bytes: head and body.
fn fetch_raw(port: u16, path: &str, headers: &str) -> (String, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}\r\n"
    )
    .expect("request");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("response");
    let at = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head");
    (
        String::from_utf8_lossy(&raw[..at]).into_owned(),
        raw[at + 4..].to_vec(),
    )
}

#[test]
fn curl_compressed_reads_the_same_stream_and_digest_as_a_plain_client() {
    let (db, _copy, server) = setup("curlgz", 3000);
    // `before` fixes the horizon, so that both requests carry the same one.
    for path in [
        format!("/{db}/t/?before=2021-01-01"),
        format!("/{db}/t/?since=2020-01-01+00:10:00&after_key=%5B600%5D&before=2021-01-01"),
        format!("/{db}/t/digest?chunk_rows=100"),
    ] {
        let url = server.url(&path);
        let plain = without_horizon(curl(&[&url]));
        let compressed = without_horizon(curl(&["--compressed", &url]));
        assert!(plain.ends_with(b"}}\n") && plain.len() > 1000, "{path}");
        assert!(plain == compressed, "{path}: curl --compressed differs");

        let (head, body) = fetch_raw(server.port, &path, "Accept-Encoding: gzip\r\n");
        assert!(head.contains("Content-Encoding: gzip"), "{head}");
        assert!(head.contains("Vary: Accept-Encoding"), "{head}");
        assert_eq!(&body[..2], b"\x1f\x8b", "{path}: a gzip body");
        if !path.contains("digest") {
            // Digests are mostly hashes, which do not compress.
            assert!(
                body.len() * 2 < plain.len(),
                "{path}: {} of {}",
                body.len(),
                plain.len()
            );
        }
        let (head, body) = fetch_raw(server.port, &path, "Accept-Encoding: gzip;q=0, br\r\n");
        assert!(!head.contains("Content-Encoding"), "{head}");
        assert!(
            without_horizon(body) == plain,
            "{path}: a client that refuses gzip gets NDJSON"
        );
    }
    // Small JSON answers stay plain; errors are never compressed.
    let (head, _) = fetch_raw(server.port, &format!("/{db}/"), "Accept-Encoding: gzip\r\n");
    assert!(!head.contains("Content-Encoding"), "{head}");
    let (head, body) = fetch_raw(
        server.port,
        &format!("/{db}/nope/"),
        "Accept-Encoding: gzip\r\n",
    );
    assert!(
        head.starts_with("HTTP/1.1 404") && !head.contains("Content-Encoding"),
        "{head}"
    );
    assert!(String::from_utf8_lossy(&body).contains("not found"));
}

#[test]
fn the_puller_syncs_alike_with_and_without_compression() {
    let (src, dst) = pair();
    let (db, copy, server) = setup("pullgz", 5000);
    let plain_copy = format!("{copy}_plain");
    copy_schema(src, &db, dst, &plain_copy);
    let bytes = |run: &PullerRun| -> u64 {
        let line = run
            .stderr
            .lines()
            .find(|l| l.contains("table `t`: "))
            .expect("summary");
        let (before, _) = line.split_once(" bytes read").expect("bytes read");
        before
            .rsplit(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .expect("a number")
    };
    let compressed = puller(server.port, dst, &db, &copy, &["--source-compress=yes"]);
    assert_eq!(compressed.code, 0, "{}", compressed.stderr);
    let plain = puller(
        server.port,
        dst,
        &db,
        &plain_copy,
        &["--source-compress=no"],
    );
    assert_eq!(plain.code, 0, "{}", plain.stderr);
    assert_same(src, &db, dst, &copy, &["t"]);
    assert_same(src, &db, dst, &plain_copy, &["t"]);
    let (c, p) = (bytes(&compressed), bytes(&plain));
    assert!(c * 2 < p, "compressed {c} bytes, plain {p}");
    // A source on this machine (127.0.0.1) crosses no link: by default the
    // puller does not ask for gzip.
    let default_copy = format!("{copy}_default");
    copy_schema(src, &db, dst, &default_copy);
    let default = puller(server.port, dst, &db, &default_copy, &[]);
    assert_eq!(default.code, 0, "{}", default.stderr);
    assert_same(src, &db, dst, &default_copy, &["t"]);
    let d = bytes(&default);
    assert!(d * 2 > p, "by default on loopback {d} bytes, plain {p}");
    let bad = puller(
        server.port,
        dst,
        &db,
        &copy,
        &["--source-compress", "maybe"],
    );
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(
        bad.stderr.contains("--source-compress must be yes or no"),
        "{}",
        bad.stderr
    );
}

/// How much of a body of `len` bytes to keep.
type Keep = fn(usize) -> usize;

/// A proxy in front of `upstream` that passes every answer on whole but
/// the change streams of table `t`, whose body it cuts to `keep(len)`
/// bytes before closing.
fn cutting_proxy(upstream: u16, keep: Keep) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { continue };
            let _ = client.set_read_timeout(Some(Duration::from_secs(5)));
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match client.read(&mut buf) {
                    Ok(n @ 1..) => request.extend_from_slice(&buf[..n]),
                    _ => break,
                }
            }
            let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                continue;
            };
            let mut answer = Vec::new();
            if server.write_all(&request).is_err() || server.read_to_end(&mut answer).is_err() {
                continue;
            }
            let line = String::from_utf8_lossy(&request[..request.len().min(200)]).into_owned();
            let stream = line.contains("/t/") && !line.contains("/digest");
            let at = answer
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map_or(0, |i| i + 4);
            let end = if stream {
                at + keep(answer.len() - at)
            } else {
                answer.len()
            };
            let _ = client.write_all(&answer[..end]);
        }
    });
    port
}

#[test]
fn a_compressed_stream_cut_off_is_an_error_never_a_short_success() {
    let (src, dst) = pair();
    let (db, copy, server) = setup("cutgz", 2500);
    let cuts: [(&str, Keep); 3] = [
        ("half way", |len| len / 2),
        ("inside gzip's trailer", |len| len - 4),
        ("right before gzip's trailer", |len| len - 8),
    ];
    for (i, (what, keep)) in cuts.into_iter().enumerate() {
        // A fresh copy each time: every cut is of a whole first sync.
        let copy = format!("{copy}_{i}");
        copy_schema(src, &db, dst, &copy);
        let port = cutting_proxy(server.port, keep);
        let run = puller(port, dst, &db, &copy, &["--source-compress=yes"]);
        assert_eq!(
            run.code, 1,
            "cut {what}: exit 1, not a success:\n{}",
            run.stderr
        );
        assert!(
            run.stderr.contains("the compressed stream was cut off")
                || run.stderr.contains("ended without a trailer"),
            "cut {what}: {}",
            run.stderr
        );
        assert!(
            count(dst, &copy, "t") < 2500,
            "cut {what}: the last, incomplete batch is discarded"
        );
        let run = puller(server.port, dst, &db, &copy, &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_same(src, &db, dst, &copy, &["t"]);
    }
}

/// Reads a compressed stream at about `rate` bytes a second, as a client
/// at the far end of a slow link does; returns the raw body.
fn slow_compressed_body(port: u16, path: &str, rate: f64) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let started = Instant::now();
    let (mut raw, mut buf) = (Vec::new(), vec![0u8; 32 * 1024]);
    loop {
        let n = s.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
        let due = Duration::from_secs_f64(raw.len() as f64 / rate);
        if let Some(ahead) = due.checked_sub(started.elapsed()) {
            std::thread::sleep(ahead);
        }
    }
    let at = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head")
        + 4;
    assert!(
        String::from_utf8_lossy(&raw[..at]).contains("Content-Encoding: gzip"),
        "a compressed answer"
    );
    raw.split_off(at)
}

#[test]
fn a_slow_client_gets_harder_compression_of_the_same_rows() {
    let (db, _copy, server) = setup("slowgz", 250_000);
    let path = format!("/{db}/t/?before=2021-01-01");
    let plain = curl(&[&server.url(&path)]);
    // Kernel buffers take the first few MB at once; after that the server
    // waits on the client and raises the level step by step.
    let body = slow_compressed_body(server.port, &path, 1_200_000.0);
    // The server writes the line once the client has closed.
    let line = || {
        server
            .log_text()
            .lines()
            .find(|l| l.contains(&path) && l.contains(" gzip="))
            .map(str::to_string)
    };
    wait_until("an access log line", Duration::from_secs(10), || {
        line().is_some()
    });
    let line = line().unwrap_or_default();
    let level: u32 = line
        .split(" gzip=")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|l| l.parse().ok())
        .expect("a level");
    assert!(level > MIN_LEVEL, "the level rose on a slow client: {line}");
    // The puller's decoder and gzip(1) both read the stream, whose
    // compressor changed midway, as the plain rows.
    let mut unpacked = Vec::new();
    Decoded::new(&body[..], true)
        .read_to_end(&mut unpacked)
        .expect("the puller's decoder reads it");
    assert!(unpacked == plain, "the puller's decoder: same rows");
    let mut gzip = Command::new("gzip")
        .arg("-dc")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("gzip runs");
    let mut stdin = gzip.stdin.take().expect("stdin");
    let feeder = std::thread::spawn(move || stdin.write_all(&body));
    let out = gzip.wait_with_output().expect("gzip -dc");
    feeder.join().expect("feeder").expect("fed");
    assert!(out.status.success(), "gzip -dc: {}", out.status);
    assert!(out.stdout == plain, "gzip -dc: same rows");
}
