//! gzip on the wire: which side asked for it (`Accept-Encoding`), which
//! answer carries it (`Content-Encoding`), the server's streaming encoder
//! that flushes on a clock so that a slow trickle of rows is not held back
//! (its level follows the link: [`crate::adaptive_gzip`]), and the client's
//! decoder. A compressed stream is still read line by line as it arrives;
//! memory stays flat on both sides (flate2's pure-Rust backend, a window of
//! 32 KiB).

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use flate2::read::GzDecoder;

use crate::adaptive_gzip::AdaptiveGzip;

/// How long written bytes may wait in the encoder (and the socket buffer)
/// while rows keep coming; the end of a stream is always flushed at once.
pub const FLUSH_EVERY: Duration = Duration::from_millis(200);

/// Whether an `Accept-Encoding` value admits gzip: `gzip` or `x-gzip` (or
/// `*`) with a quality above zero.
pub fn accepts_gzip(accept_encoding: Option<&str>) -> bool {
    let Some(value) = accept_encoding else {
        return false;
    };
    value.split(',').any(|item| {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let quality = parts
            .filter_map(|p| p.trim().strip_prefix("q=").or(p.trim().strip_prefix("Q=")))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        matches!(coding.as_str(), "gzip" | "x-gzip" | "*") && quality > 0.0
    })
}

/// Whether a `Content-Encoding` value says gzip; an encoding this client
/// cannot read is an error in words.
pub fn is_gzip(content_encoding: Option<&str>) -> Result<bool, String> {
    match content_encoding.map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(false),
        Some(v) if v.is_empty() || v == "identity" => Ok(false),
        Some(v) if v == "gzip" || v == "x-gzip" => Ok(true),
        Some(v) => Err(format!(
            "the answer is encoded as {v:?}, which dbd_puller cannot read (only gzip)"
        )),
    }
}

/// A response body as it goes out: as written, or gzip-compressed.
pub enum Encoded<W: Write> {
    Plain(W),
    Gzip(AdaptiveGzip<W>),
}

impl<W: Write> Encoded<W> {
    pub fn new(inner: W, gzip: bool) -> Encoded<W> {
        if gzip {
            Encoded::Gzip(AdaptiveGzip::new(inner))
        } else {
            Encoded::Plain(inner)
        }
    }

    /// Ends the body (gzip: the last block and the CRC trailer) and gives
    /// the inner writer back, not flushed.
    pub fn finish(self) -> io::Result<W> {
        match self {
            Encoded::Plain(w) => Ok(w),
            Encoded::Gzip(g) => g.finish(),
        }
    }

    pub fn get_ref(&self) -> &W {
        match self {
            Encoded::Plain(w) => w,
            Encoded::Gzip(g) => g.get_ref(),
        }
    }

    /// gzip: the highest compression level used so far.
    pub fn gzip_level(&self) -> Option<u32> {
        match self {
            Encoded::Plain(_) => None,
            Encoded::Gzip(g) => Some(g.picker().highest()),
        }
    }

    pub fn get_mut(&mut self) -> &mut W {
        match self {
            Encoded::Plain(w) => w,
            Encoded::Gzip(g) => g.get_mut(),
        }
    }
}

impl<W: Write> Write for Encoded<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoded::Plain(w) => w.write(buf),
            Encoded::Gzip(g) => g.write(buf),
        }
    }

    /// gzip: a sync flush, so that everything written so far can be
    /// decompressed by the client now (and the level for what follows).
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoded::Plain(w) => w.flush(),
            Encoded::Gzip(g) => g.flush(),
        }
    }
}

/// Flushes `inner` when a write comes [`FLUSH_EVERY`] or more after the
/// last flush: rows that trickle in go out within that time of the next
/// one, without a flush (and, compressed, a sync block) per row.
pub struct Paced<W: Write> {
    inner: W,
    flushed: Instant,
}

impl<W: Write> Paced<W> {
    pub fn new(inner: W) -> Paced<W> {
        Paced {
            inner,
            flushed: Instant::now(),
        }
    }

    pub fn into_inner(self) -> W {
        self.inner
    }

    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }
}

impl<W: Write> Write for Paced<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        if self.flushed.elapsed() >= FLUSH_EVERY {
            self.flush()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()?;
        self.flushed = Instant::now();
        Ok(())
    }
}

/// A response body as it comes in: as sent, or gunzipped. A gzip body cut
/// short, or whose CRC or length trailer disagrees, is a read error.
pub enum Decoded<R: Read> {
    Plain(R),
    Gzip(Box<GzDecoder<R>>),
}

impl<R: Read> Decoded<R> {
    pub fn new(inner: R, gzip: bool) -> Decoded<R> {
        if gzip {
            Decoded::Gzip(Box::new(GzDecoder::new(inner)))
        } else {
            Decoded::Plain(inner)
        }
    }
}

impl<R: Read> Read for Decoded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoded::Plain(r) => r.read(buf),
            Decoded::Gzip(g) => g.read(buf).map_err(|e| {
                let what = match e.kind() {
                    io::ErrorKind::UnexpectedEof => "the compressed stream was cut off".to_string(),
                    _ => format!("the compressed stream is damaged ({e})"),
                };
                io::Error::new(io::ErrorKind::InvalidData, what)
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compress(parts: &[&[u8]]) -> Vec<u8> {
        let mut enc = Encoded::new(Vec::new(), true);
        for p in parts {
            enc.write_all(p).unwrap();
        }
        enc.finish().unwrap()
    }

    fn decompress(bytes: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        Decoded::new(bytes, true).read_to_end(&mut out).map(|_| out)
    }

    #[test]
    fn negotiation() {
        assert!(accepts_gzip(Some("gzip")));
        assert!(accepts_gzip(Some("deflate, gzip;q=0.5, br")));
        assert!(accepts_gzip(Some("*")));
        assert!(accepts_gzip(Some("X-GZIP")));
        assert!(!accepts_gzip(Some("gzip;q=0")));
        assert!(!accepts_gzip(Some("identity")));
        assert!(!accepts_gzip(Some("br, deflate")));
        assert!(!accepts_gzip(None));
        assert_eq!(is_gzip(None), Ok(false));
        assert_eq!(is_gzip(Some("identity")), Ok(false));
        assert_eq!(is_gzip(Some(" GZIP ")), Ok(true));
        assert!(is_gzip(Some("br")).unwrap_err().contains("\"br\""));
    }

    #[test]
    fn round_trip_and_plain_passthrough() {
        let text = b"{\"header\":{}}\n[1,\"a\"]\n[2,\"b\"]\n{\"trailer\":{}}\n".repeat(50);
        let packed = compress(&[&text[..100], &text[100..]]);
        assert!(packed.len() < text.len() / 4, "{} bytes", packed.len());
        assert_eq!(decompress(&packed).unwrap(), text);
        let mut plain = Vec::new();
        Decoded::new(&text[..], false)
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(plain, text);
    }

    #[test]
    fn a_body_cut_anywhere_is_an_error_never_a_short_success() {
        let text: Vec<u8> = (0..2000)
            .flat_map(|i| format!("[{i},\"row {i}\",{}]\n", i * 7919 % 1000).into_bytes())
            .collect();
        let packed = compress(&[&text]);
        for cut in (0..packed.len()).step_by(7).chain([packed.len() - 1]) {
            match decompress(&packed[..cut]) {
                Err(e) => assert_eq!(e.kind(), io::ErrorKind::InvalidData, "cut at {cut}"),
                Ok(out) => panic!(
                    "cut at {cut} of {} read as {} bytes",
                    packed.len(),
                    out.len()
                ),
            }
        }
        let mut damaged = packed.clone();
        let at = damaged.len() - 6;
        damaged[at] ^= 1;
        assert!(decompress(&damaged).is_err(), "a wrong CRC is an error");
    }

    #[test]
    fn a_sync_flush_makes_what_was_written_readable_at_once() {
        let mut enc = Encoded::new(Vec::new(), true);
        enc.write_all(b"[1]\n").unwrap();
        enc.flush().unwrap();
        let so_far = enc.get_ref().clone();
        let mut dec = GzDecoder::new(&so_far[..]);
        let mut buf = [0u8; 4];
        dec.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"[1]\n");
    }

    #[test]
    fn pacing_flushes_on_the_clock_only() {
        struct Flushes(u32);
        impl Write for Flushes {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                self.0 += 1;
                Ok(())
            }
        }
        let mut paced = Paced::new(Flushes(0));
        for _ in 0..1000 {
            paced.write_all(b"x").unwrap();
        }
        assert_eq!(paced.get_ref().0, 0, "no flush per write");
        std::thread::sleep(FLUSH_EVERY);
        paced.write_all(b"late").unwrap();
        assert_eq!(
            paced.into_inner().0,
            1,
            "a write after the interval flushes"
        );
    }
}
