//! The static builds. The ARM appliance build, `scripts/build-static
//! aarch64` (what `make arm` runs), must give fully static aarch64 binaries
//! that start; they run here under qemu-aarch64-static, which the script
//! installs when missing. The x86-64 one (`make static`, what the Debian
//! packages and `make bench` ship) runs code no debug build does: musl,
//! mimalloc and our own `memcpy` and `memmove` (the `memcopy` crate), so it
//! syncs values of every length, binary and escaped text, against real
//! MariaDB servers and the copy must be exact.

use std::process::Command;

use dbdump_tests::*;

fn output(cmd: &mut Command) -> (bool, String) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn aarch64_binaries_are_static_and_run_under_qemu() {
    let root = workspace_root();
    // The same build as `make arm`'s (and `make deb`'s), so either reuses the other.
    let mut build = Command::new(root.join("scripts/build-static"));
    let (ok, log) = output(plain_cargo_env(&mut build).arg("aarch64"));
    assert!(ok, "scripts/build-static aarch64 failed:\n{log}");
    for name in ["dbd_server", "dbd_puller"] {
        let bin = root
            .join("target/aarch64-unknown-linux-musl/release")
            .join(name);
        let (_, desc) = output(Command::new("file").arg(&bin));
        assert!(desc.contains("ARM aarch64"), "{desc}");
        assert!(desc.contains("statically linked"), "{desc}");
        let (ok, version) = output(
            Command::new("qemu-aarch64-static")
                .arg(&bin)
                .arg("--version"),
        );
        assert!(ok, "{name} --version under qemu failed: {version}");
        assert_eq!(
            version.trim(),
            format!("{name} {}", env!("CARGO_PKG_VERSION"))
        );
        let size = std::fs::metadata(&bin).map(|m| m.len()).unwrap_or(u64::MAX);
        assert!(size <= 6_000_000, "{name} is {size} bytes");
    }
}

#[test]
fn x86_64_static_binaries_copy_values_of_every_length_exactly() {
    let root = workspace_root();
    let mut build = Command::new(root.join("scripts/build-static"));
    let (ok, log) = output(plain_cargo_env(&mut build).arg("x86_64"));
    assert!(ok, "scripts/build-static x86_64 failed:\n{log}");
    let dir = root.join("target/x86_64-unknown-linux-musl/release");
    let (src, dst) = pair();
    let db = unique_name("static_x86");
    let copy = format!("{db}_copy");
    // Lengths 0 to 2,599 bytes, text with quotes, backslashes, control
    // and multi-byte characters (escaped in the stream), and binary bytes
    // (base64 in the stream): every size class of the copies on the way.
    src.exec(&format!(
        "CREATE DATABASE {0}; USE {0};
         CREATE TABLE t (id INT PRIMARY KEY, s TEXT NOT NULL, b BLOB NOT NULL, n DECIMAL(30,10),
           ts TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6));
         INSERT INTO t (id, s, b, n, ts)
           SELECT seq, LEFT(REPEAT(CONCAT('a', CHAR(92, 34, 9 USING utf8mb4), _utf8mb4 X'C3A9E282ACF09F9880', seq), 200), seq % 2600),
                  LEFT(REPEAT(UNHEX(MD5(seq)), 170), (seq * 7) % 2600),
                  IF(seq % 3 = 0, NULL, seq * 1234.5678901234),
                  '2020-01-01' + INTERVAL seq SECOND
           FROM seq_1_to_12000;",
        ident(&db)
    ));
    copy_schema(src, &db, dst, &copy);
    let server = Server::start_binary(&dir.join("dbd_server"), src, &["--source-databases", &db]);
    let pull = || {
        run_puller(puller_command_of(
            &dir.join("dbd_puller"),
            server.port,
            dst,
            &db,
            &copy,
            &[],
        ))
    };
    let run = pull();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_same(src, &db, dst, &copy, &["t"]);
    // The incremental path too: changed rows, longer and shorter.
    src.exec(&format!(
        "UPDATE {}.t SET s = CONCAT(s, s), b = LEFT(b, 3) WHERE id % 97 = 0",
        ident(&db)
    ));
    std::thread::sleep(std::time::Duration::from_millis(1200));
    let run = pull();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_same(src, &db, dst, &copy, &["t"]);
}
