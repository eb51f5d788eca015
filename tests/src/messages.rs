//! Checks on what a user reads: error messages in words, never a library's
//! Debug form, and runs of a binary that must end on their own.

use std::process::Command;
use std::time::Duration;

use crate::PullerRun;

/// Fragments of Rust Debug forms of the libraries' errors (`DriverError {
/// … }`, `Other(OtherError(CaUsedAsEndEntity))`, …) that no message may show.
const DEBUG_FORMS: &[&str] = &[
    "{",
    "DriverError",
    "MySqlError",
    "CodecError",
    "IoError",
    "Other(",
    "OtherError",
    "InvalidCertificate",
    "CaUsedAsEndEntity",
    "NotValidForName",
    "InvalidMessage",
    "AlertReceived",
    "Kind(",
];

/// Panics when `text` (a log, stderr or an error body) shows a Debug form.
pub fn assert_in_words(text: &str) {
    for form in DEBUG_FORMS {
        assert!(!text.contains(form), "a Debug form ({form:?}) in:\n{text}");
    }
}

/// Asserts `run` failed with exit code 1, its stderr containing every one
/// of `needles` and no Debug form; returns the stderr.
pub fn assert_fails_in_words(run: &PullerRun, needles: &[&str]) -> String {
    assert_eq!(run.code, 1, "expected exit code 1:\n{}", run.stderr);
    for needle in needles {
        assert!(
            run.stderr.contains(needle),
            "{needle:?} missing from:\n{}",
            run.stderr
        );
    }
    assert_in_words(&run.stderr);
    run.stderr.clone()
}

/// Runs `cmd` (which must end on its own, e.g. a server that cannot start),
/// killing it and failing the test after `limit`.
pub fn run_to_end(cmd: &mut Command, limit: Duration) -> PullerRun {
    use std::io::Read;
    let mut child = crate::spawn(
        cmd.stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped()),
    );
    let mut stderr = child.stderr.take().expect("piped stderr");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let mut status = None;
    crate::wait_until(&format!("{cmd:?} did not end"), limit, || {
        status = child.try_wait().expect("cannot wait for a child");
        status.is_some()
    });
    PullerRun {
        code: status.and_then(|s| s.code()).unwrap_or(-1),
        stdout: String::new(),
        stderr: reader.join().unwrap_or_default(),
    }
}
