//! The ARM appliance build: `scripts/build-static aarch64` (what `make arm`
//! runs) must give fully static aarch64 binaries that start. They run here
//! under qemu-aarch64-static, which the script installs when missing.

use std::process::Command;

use dbdump_tests::{plain_cargo_env, workspace_root};

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
