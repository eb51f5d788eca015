//! A response body as the client reads it: framed by `Content-Length`, by
//! chunks or by the connection closing, its bytes counted as they arrive;
//! and a stream's lines read from it (a line cut in two is an error, not a
//! line) up to the end after its trailer.

use std::io::{self, BufRead, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use dbdump_shared::http::Head;

/// How the body of a response ends.
pub enum Framing {
    Length(u64),
    Chunked { left: u64, done: bool },
    Close,
}

/// A response body, read as it arrives from `R`.
pub struct Body<R> {
    conn: R,
    framing: Framing,
    counted: Arc<AtomicU64>,
}

/// Reads at most `left` bytes, counting them off; the peer closing early
/// is an error (`short`), not an end.
fn read_at_most(
    r: &mut impl Read,
    buf: &mut [u8],
    left: &mut u64,
    short: &str,
) -> io::Result<usize> {
    let max = buf.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
    let n = r.read(&mut buf[..max])?;
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            short.to_string(),
        ));
    }
    *left -= n as u64;
    Ok(n)
}

impl<R: BufRead> Read for Body<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.read_framed(buf)?;
        self.counted.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl<R: BufRead> Body<R> {
    /// A body framed by `framing`, read from `conn`; every byte read from
    /// the connection is added to `counted`.
    pub fn new(conn: R, framing: Framing, counted: Arc<AtomicU64>) -> Body<R> {
        Body {
            conn,
            framing,
            counted,
        }
    }

    fn read_framed(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.framing {
            Framing::Close => self.conn.read(buf),
            Framing::Length(left) => {
                if *left == 0 {
                    return Ok(0);
                }
                read_at_most(
                    &mut self.conn,
                    buf,
                    left,
                    "body shorter than Content-Length",
                )
            }
            Framing::Chunked { left, done } => {
                if *done {
                    return Ok(0);
                }
                if *left == 0 {
                    let mut line = String::new();
                    self.conn.by_ref().take(1024).read_line(&mut line)?;
                    let size = line.trim().split(';').next().unwrap_or("");
                    let size = u64::from_str_radix(size, 16).map_err(|_| {
                        io::Error::new(io::ErrorKind::InvalidData, "bad chunk size")
                    })?;
                    if size == 0 {
                        *done = true;
                        return Ok(0);
                    }
                    *left = size;
                }
                let n = read_at_most(&mut self.conn, buf, left, "stream ended inside a chunk")?;
                if *left == 0 {
                    let mut crlf = [0u8; 2];
                    self.conn.read_exact(&mut crlf)?;
                }
                Ok(n)
            }
        }
    }
}

/// How the body after `head` ends.
pub fn framing(head: &Head) -> Result<Framing, String> {
    if head
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    {
        return Ok(Framing::Chunked {
            left: 0,
            done: false,
        });
    }
    match head.header("content-length") {
        Some(v) => v
            .trim()
            .parse()
            .map(Framing::Length)
            .map_err(|_| format!("bad Content-Length {v:?}")),
        None => Ok(Framing::Close),
    }
}

/// Reads the next line of a stream into `line` (cleared first): its length,
/// 0 at the end of the body. Every line the server writes ends with a
/// newline, and a stream's body ends when its connection closes, so a last
/// line without one is a stream cut in the middle of a line: an error,
/// never a line to decode.
pub fn read_whole_line(body: &mut impl BufRead, line: &mut String) -> io::Result<usize> {
    line.clear();
    let n = body.read_line(line)?;
    if n > 0 && !line.ends_with('\n') {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "cut in the middle of a line",
        ));
    }
    Ok(n)
}

/// After a stream's trailer nothing may follow but the end of the body.
/// Reading up to it is also what checks a gzip body's CRC and length: a
/// compressed stream cut after its trailer line is an error too, never
/// taken as complete.
pub fn expect_end(body: &mut impl Read) -> Result<(), String> {
    let mut rest = Vec::new();
    body.take(4096)
        .read_to_end(&mut rest)
        .map_err(|e| format!("stream broke off after its trailer: {e}"))?;
    if rest.iter().any(|b| !b.is_ascii_whitespace()) {
        return Err("the server sent more after the stream's trailer".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use dbdump_shared::http as h;
    use std::io::Cursor;

    fn head(lines: &str) -> Head {
        h::read_head(&mut Cursor::new(lines.to_string())).unwrap()
    }

    #[test]
    fn framing_by_headers() {
        let hd = head("HTTP/1.1 404 Not Found\r\nContent-Length: 12\r\n\r\n");
        assert!(matches!(framing(&hd).unwrap(), Framing::Length(12)));
        let hd = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert!(matches!(framing(&hd).unwrap(), Framing::Chunked { .. }));
        assert!(matches!(
            framing(&head("HTTP/1.0 200 OK\r\n\r\n")).unwrap(),
            Framing::Close
        ));
        assert!(framing(&head("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n")).is_err());
    }

    #[test]
    fn a_last_line_without_its_newline_is_a_cut_not_a_line() {
        let mut body = Cursor::new(b"[1,\"a\"]\n[2,\"b".to_vec());
        let mut line = String::new();
        assert_eq!(read_whole_line(&mut body, &mut line).unwrap(), 8);
        let cut = read_whole_line(&mut body, &mut line).unwrap_err();
        assert_eq!(cut.kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(cut.to_string(), "cut in the middle of a line");
        assert_eq!(read_whole_line(&mut body, &mut line).unwrap(), 0);
    }

    fn read_body(framing: Framing, wire: &str) -> io::Result<String> {
        let mut body = Body {
            conn: Cursor::new(wire.as_bytes().to_vec()),
            framing,
            counted: Arc::new(AtomicU64::new(0)),
        };
        let mut out = String::new();
        body.read_to_string(&mut out).map(|_| out)
    }

    #[test]
    fn bodies_by_framing() {
        let chunked = || Framing::Chunked {
            left: 0,
            done: false,
        };
        assert_eq!(
            read_body(chunked(), "3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n").unwrap(),
            "abcde"
        );
        assert!(read_body(chunked(), "5\r\nab").is_err());
        assert!(read_body(chunked(), "zz\r\n").is_err());
        assert_eq!(read_body(Framing::Length(3), "abcdef").unwrap(), "abc");
        assert!(read_body(Framing::Length(9), "abc").is_err());
        assert_eq!(read_body(Framing::Close, "all of it").unwrap(), "all of it");
    }
}
