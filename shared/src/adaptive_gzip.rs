//! The server's gzip encoder, whose compression level follows the link.
//!
//! A fast link (a LAN, loopback) is best served by a cheap level: the
//! CPU, not the wire, is what limits the sync there. A slow link leaves the
//! server waiting on the client most of the time; that time is better spent
//! compressing harder, so fewer bytes cross the link. The encoder measures
//! the share of time its writes to the client waited and moves the level
//! one step at a time, between [`MIN_LEVEL`] and [`MAX_LEVEL`], at most once
//! per [`DECIDE_EVERY`].
//!
//! flate2's pure-Rust backend cannot change the level of a running deflate
//! stream, so a change ends the current compressor at a sync flush (byte
//! aligned, no final block) and goes on with a new one: one gzip member, one
//! deflate stream made of both compressors' blocks, which any inflater
//! (zlib in curl, flate2 in dbd_puller) reads as one. The new compressor
//! starts without the old one's 32 KiB of history, which costs a few bytes
//! once per change.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

/// The level a stream starts with and the lowest it goes back to. Level 1
/// is flate2's separate fast path, which leaves much on the table: on the
/// Sakila sample's NDJSON it gives 26.9 % of the plain bytes where level 2
/// gives 23.5 %, at 166 MB/s of input on one core, fast enough for any
/// sync.
pub const MIN_LEVEL: u32 = 2;

/// The highest level a slow link earns: above it flate2's backend spends
/// much more CPU for almost no fewer bytes on NDJSON rows.
pub const MAX_LEVEL: u32 = 6;

/// How often the level may change: often enough to reach the top within
/// seconds on a slow link, rarely enough that a change's lost history is
/// negligible.
pub const DECIDE_EVERY: Duration = Duration::from_millis(500);

/// Above this share of time waiting on the client, compress harder.
const RAISE_ABOVE: f64 = 0.5;

/// Below this share, the link keeps up: compress faster.
const LOWER_BELOW: f64 = 0.2;

/// gzip's member header: deflate, no name or time, unknown OS.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// Output space per call into the compressor.
const CHUNK: usize = 32 * 1024;

/// Chooses the next level from the share of the time that writes waited.
#[derive(Debug)]
pub struct LevelPicker {
    level: u32,
    highest: u32,
    every: Duration,
    since: Instant,
    waited: Duration,
}

impl LevelPicker {
    pub fn new(every: Duration, now: Instant) -> LevelPicker {
        LevelPicker {
            level: MIN_LEVEL,
            highest: MIN_LEVEL,
            every,
            since: now,
            waited: Duration::ZERO,
        }
    }

    /// A write to the client took this long.
    pub fn waited(&mut self, took: Duration) {
        self.waited += took;
    }

    /// The level for what comes next, decided at a flush: one step up when
    /// more than half of the last period went into waiting on the client,
    /// one step down when less than a fifth did.
    pub fn decide(&mut self, now: Instant) -> u32 {
        let span = now.saturating_duration_since(self.since);
        if span < self.every {
            return self.level;
        }
        let share = self.waited.as_secs_f64() / span.as_secs_f64();
        if share > RAISE_ABOVE && self.level < MAX_LEVEL {
            self.level += 1;
        } else if share < LOWER_BELOW && self.level > MIN_LEVEL {
            self.level -= 1;
        }
        self.highest = self.highest.max(self.level);
        self.since = now;
        self.waited = Duration::ZERO;
        self.level
    }

    pub fn level(&self) -> u32 {
        self.level
    }

    /// The highest level used so far (for the access log).
    pub fn highest(&self) -> u32 {
        self.highest
    }
}

/// What one call into the compressor did.
struct Ran {
    /// Input bytes it took.
    taken: usize,
    /// Output bytes it produced.
    produced: usize,
    /// It filled its output space, so it may hold more.
    full: bool,
    status: Status,
}

/// One gzip member written to `inner`, its level picked by [`LevelPicker`]
/// at every flush.
pub struct AdaptiveGzip<W: Write> {
    inner: W,
    deflate: Compress,
    crc: Crc,
    out: Vec<u8>,
    picker: LevelPicker,
    header_sent: bool,
}

impl<W: Write> AdaptiveGzip<W> {
    pub fn new(inner: W) -> AdaptiveGzip<W> {
        AdaptiveGzip::with_period(inner, DECIDE_EVERY)
    }

    /// With the level decided every `every` (tests decide faster).
    pub fn with_period(inner: W, every: Duration) -> AdaptiveGzip<W> {
        AdaptiveGzip {
            inner,
            deflate: Compress::new(Compression::new(MIN_LEVEL), false),
            crc: Crc::new(),
            out: Vec::with_capacity(CHUNK),
            picker: LevelPicker::new(every, Instant::now()),
            header_sent: false,
        }
    }

    /// Kept at `level` (tests of each level's compressor).
    #[cfg(test)]
    fn at_level(inner: W, level: u32) -> AdaptiveGzip<W> {
        let mut enc = AdaptiveGzip::with_period(inner, Duration::from_secs(3600));
        enc.deflate = Compress::new(Compression::new(level), false);
        (enc.picker.level, enc.picker.highest) = (level, level);
        enc
    }

    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    pub fn picker(&self) -> &LevelPicker {
        &self.picker
    }

    /// Writes to the client, timing how long that took. Most calls into the
    /// compressor produce nothing: those cost no clock reads.
    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let result = self.inner.write_all(bytes);
        self.picker.waited(started.elapsed());
        result
    }

    fn send_header(&mut self) -> io::Result<()> {
        if !self.header_sent {
            self.header_sent = true;
            self.send(&HEADER)?;
        }
        Ok(())
    }

    /// One call into the compressor; what it produced goes to the client.
    fn run(&mut self, input: &[u8], flush: FlushCompress) -> io::Result<Ran> {
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        let taken_before = self.deflate.total_in();
        let status = self.deflate.compress_vec(input, &mut out, flush);
        let taken = (self.deflate.total_in() - taken_before) as usize;
        let produced = out.len();
        let full = produced > 0 && produced == out.capacity();
        let sent = self.send(&out);
        // Back before anything can fail: a lost buffer has no room for output.
        self.out = out;
        let status =
            status.map_err(|e| io::Error::other(format!("gzip compression failed: {e}")))?;
        sent.map(|_| Ran {
            taken,
            produced,
            full,
            status,
        })
    }

    /// Ends the compressor's output at a byte boundary (a sync flush) and
    /// sends it all: the client can read everything written so far.
    fn sync(&mut self) -> io::Result<()> {
        self.send_header()?;
        // miniz_oxide, asked to flush while it holds output from an earlier
        // call, only hands that over and does not flush; and a flush that
        // first compresses held input may fill a block, hand over part of
        // it and stop there. So: hand over what it holds, ask for the
        // flush, and again until a flush asked of a compressor that held
        // nothing fits into one call's space, which is when it was done.
        // (A level change after a flush not done would cut a deflate block
        // in two, and lose held input: a damaged stream.)
        loop {
            while self.run(&[], FlushCompress::None)?.full {}
            if !self.run(&[], FlushCompress::Sync)?.full {
                return Ok(());
            }
        }
    }

    /// Ends the member: the final block, the CRC and the length, and gives
    /// the inner writer back, not flushed.
    pub fn finish(mut self) -> io::Result<W> {
        self.send_header()?;
        while self.run(&[], FlushCompress::Finish)?.status != Status::StreamEnd {}
        let mut trailer = [0u8; 8];
        trailer[..4].copy_from_slice(&self.crc.sum().to_le_bytes());
        trailer[4..].copy_from_slice(&self.crc.amount().to_le_bytes());
        self.send(&trailer)?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for AdaptiveGzip<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.send_header()?;
        loop {
            // A call may only hand over output held from the last one.
            let ran = self.run(buf, FlushCompress::None)?;
            if ran.taken > 0 {
                self.crc.update(&buf[..ran.taken]);
                return Ok(ran.taken);
            }
            if ran.produced == 0 {
                return Err(io::Error::other("gzip compression made no progress"));
            }
        }
    }

    /// A sync flush, then the level for what comes next: a new level starts
    /// a new compressor right at the boundary the flush made.
    fn flush(&mut self) -> io::Result<()> {
        self.sync()?;
        let started = Instant::now();
        let flushed = self.inner.flush();
        self.picker.waited(started.elapsed());
        flushed?;
        let before = self.picker.level();
        let level = self.picker.decide(Instant::now());
        if level != before {
            self.deflate = Compress::new(Compression::new(level), false);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::GzDecoder;
    use std::io::Read;

    fn rows(n: u32) -> Vec<u8> {
        (0..n)
            .flat_map(|i| {
                format!(
                    "[{i},{},\"customer {} {:016x}\",\"{}.{:02}\",\"2024-01-01 00:{:02}:{:02}\"]\n",
                    i % 5000,
                    i % 97,
                    u64::from(i)
                        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                        .rotate_left(29),
                    i * 7919 % 100000,
                    i % 100,
                    i / 60 % 60,
                    i % 60
                )
                .into_bytes()
            })
            .collect()
    }

    fn gunzip(bytes: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        GzDecoder::new(bytes).read_to_end(&mut out).map(|_| out)
    }

    #[test]
    fn the_level_climbs_while_the_client_is_slow_and_falls_when_it_keeps_up() {
        let t0 = Instant::now();
        let second = Duration::from_secs(1);
        let mut p = LevelPicker::new(second, t0);
        // Too early to decide, however slow the client.
        p.waited(Duration::from_millis(900));
        assert_eq!(p.decide(t0 + Duration::from_millis(950)), MIN_LEVEL);
        let mut now = t0 + Duration::from_millis(950);
        for step in 1..=MAX_LEVEL + 3 {
            now += second;
            p.waited(Duration::from_millis(700));
            assert_eq!(p.decide(now), (MIN_LEVEL + step).min(MAX_LEVEL));
        }
        // In between: stays.
        now += second;
        p.waited(Duration::from_millis(300));
        assert_eq!(p.decide(now), MAX_LEVEL);
        for step in 1..=MAX_LEVEL + 3 {
            now += second;
            p.waited(Duration::from_millis(50));
            assert_eq!(p.decide(now), MAX_LEVEL.saturating_sub(step).max(MIN_LEVEL));
        }
        assert_eq!(p.highest(), MAX_LEVEL);
    }

    /// A client that takes its time over every write.
    struct Slow(Vec<u8>, Duration);
    impl Write for Slow {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            std::thread::sleep(self.1);
            self.0.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    const SYNC_MARKER: [u8; 4] = [0, 0, 0xff, 0xff];

    /// Bytes that do not compress (xorshift).
    fn noise(n: usize, mut x: u64) -> Vec<u8> {
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    #[test]
    fn a_flush_after_a_write_that_left_output_behind_still_ends_at_a_sync_point() {
        for level in 1..=MAX_LEVEL {
            let mut enc = AdaptiveGzip::at_level(Vec::new(), level);
            let (mut text, mut flushes) = (Vec::new(), 0);
            // One byte at a time, as a JSON encoder writes a separator: the
            // byte that fills a block is the last of its write.
            for piece in noise(200_000, 7).chunks(1) {
                let before = enc.get_ref().len();
                enc.write_all(piece).unwrap();
                text.extend_from_slice(piece);
                // A block went out during this write: the compressor may
                // still hold the part that did not fit into one call's space.
                if enc.get_ref().len() > before {
                    enc.flush().unwrap();
                    flushes += 1;
                    assert!(
                        enc.get_ref().ends_with(&SYNC_MARKER),
                        "level {level}, flush {flushes}"
                    );
                    let mut readable = vec![0u8; text.len()];
                    GzDecoder::new(&enc.get_ref()[..])
                        .read_exact(&mut readable)
                        .expect("all written so far is readable at once");
                    assert!(readable == text, "level {level}");
                }
            }
            assert!(flushes >= 2, "level {level}: {flushes} flushes");
            assert_eq!(gunzip(&enc.finish().unwrap()).unwrap(), text);
        }
    }

    #[test]
    fn a_flush_that_first_fills_a_block_with_held_input_still_ends_at_a_sync_point() {
        // Level 1 holds up to 4 KiB of input uncompressed, the others up to
        // 258 bytes; incompressible input fills a block of more than one
        // call's space at the flush.
        for (level, n) in (1..=MAX_LEVEL).flat_map(|l| (60..66).map(move |k| (l, k * 1000))) {
            let mut enc = AdaptiveGzip::at_level(Vec::new(), level);
            let text = noise(n, 7);
            enc.write_all(&text).unwrap();
            enc.flush().unwrap();
            assert!(
                enc.get_ref().ends_with(&SYNC_MARKER),
                "level {level}, {n} bytes"
            );
            let mut readable = vec![0u8; n];
            GzDecoder::new(&enc.get_ref()[..])
                .read_exact(&mut readable)
                .expect("all written so far is readable at once");
            assert!(readable == text, "level {level}, {n} bytes");
        }
    }

    #[test]
    fn a_stream_whose_level_changed_midway_reads_back_whole() {
        let text = rows(40_000);
        let mut enc = AdaptiveGzip::with_period(
            Slow(Vec::new(), Duration::from_millis(3)),
            Duration::from_millis(10),
        );
        let mut levels = vec![];
        // Pieces large enough that the compressor's output outgrows one
        // call's space inside a write, and still holds some at the flush.
        for piece in text.chunks(100_000) {
            enc.write_all(piece).unwrap();
            enc.flush().unwrap();
            assert!(
                enc.get_ref().0.ends_with(&SYNC_MARKER),
                "a flush ends at a sync point"
            );
            levels.push(enc.picker().level());
        }
        assert_eq!(enc.picker().highest(), MAX_LEVEL, "levels {levels:?}");
        let packed = enc.finish().unwrap().0;
        assert_eq!(gunzip(&packed).unwrap(), text);
        // Cut anywhere, it is an error, never a short success.
        for cut in (0..packed.len())
            .step_by(packed.len() / 40)
            .chain([packed.len() - 1])
        {
            assert!(gunzip(&packed[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn a_fast_client_keeps_the_lowest_level_and_a_sync_flush_is_readable_at_once() {
        let mut enc = AdaptiveGzip::new(Vec::new());
        enc.write_all(b"[1]\n").unwrap();
        enc.flush().unwrap();
        let mut dec = GzDecoder::new(&enc.get_ref()[..]);
        let mut buf = [0u8; 4];
        dec.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"[1]\n");
        let text = rows(20_000);
        for piece in text.chunks(70_000) {
            enc.write_all(piece).unwrap();
            enc.flush().unwrap();
            assert!(
                enc.get_ref().ends_with(&SYNC_MARKER),
                "a flush ends at a sync point"
            );
        }
        assert_eq!(enc.picker().highest(), MIN_LEVEL);
        let packed = enc.finish().unwrap();
        assert_eq!(gunzip(&packed).unwrap()[4..], text[..]);
        assert!(
            packed.len() < text.len() / 2,
            "{} of {}",
            packed.len(),
            text.len()
        );
    }

    #[test]
    fn an_empty_body_is_a_valid_member() {
        let packed = AdaptiveGzip::new(Vec::new()).finish().unwrap();
        assert_eq!(gunzip(&packed).unwrap(), b"");
    }
}
