//! The Debian packages: `scripts/build-deb` (what `make deb` runs) gives
//! `dbdump-server` and `dbdump-puller` packages that lintian passes without
//! errors or warnings, that install into a throwaway root with the files and modes
//! listed here, enable nothing, and whose upgrade and removal keep the
//! configuration an administrator edited (a purge takes it away).
//!
//! The arm64 packages are the ones tested, installed too (their binaries
//! run under qemu): they come from the aarch64 build that `static_build.rs`
//! makes anyway, where amd64's would cost a release build of their own
//! (minutes). The amd64 test, ignored by default, lints those and checks
//! that they hold the same files:
//! `cargo test -p dbdump-tests --test packages -- --ignored`.
//! Missing Debian tools (lintian, help2man) are installed with apt-get when
//! running as root, as CI does; otherwise the failure says what to install.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

use dbdump_tests::{plain_cargo_env, workspace_root};

const VERSION: &str = env!("CARGO_PKG_VERSION");
/// (binary, package) for both.
const PACKAGES: [(&str, &str); 2] = [
    ("dbd_server", "dbdump-server"),
    ("dbd_puller", "dbdump-puller"),
];

/// Runs `cmd`: whether it succeeded, and its stdout and stderr.
fn output(cmd: &mut Command) -> (bool, String) {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Runs `cmd` and panics with its output if it fails.
fn run(cmd: &mut Command) -> String {
    let what = format!("{cmd:?}");
    let (ok, text) = output(cmd);
    assert!(ok, "{what} failed:\n{text}");
    text
}

fn is_root() -> bool {
    static ROOT: OnceLock<bool> = OnceLock::new();
    *ROOT.get_or_init(|| output(Command::new("id").arg("-u")).1.trim() == "0")
}

/// `tool` on PATH, installed from Debian's `package` with apt-get when it
/// is missing and this runs as root (as CI does); otherwise a panic says
/// what to install. One at a time: the tests run in parallel, and two
/// apt-gets at once would fight over dpkg's lock (another process's wait).
fn ensure_tool(tool: &str, package: &str) {
    static APT: Mutex<()> = Mutex::new(());
    let _one = APT.lock().unwrap_or_else(|e| e.into_inner());
    let found = |t: &str| output(Command::new("sh").args(["-c", &format!("command -v {t}")])).0;
    if found(tool) {
        return;
    }
    assert!(
        is_root() && found("apt-get"),
        "{tool} is missing; install it: sudo apt-get install {package}"
    );
    let apt_get = |args: &[&str]| {
        output(
            Command::new("apt-get")
                .env("DEBIAN_FRONTEND", "noninteractive")
                .args(["-o", "DPkg::Lock::Timeout=120", "-qq"])
                .args(args),
        )
    };
    if !apt_get(&["install", "-y", package]).0 {
        apt_get(&["update"]);
        let (ok, log) = apt_get(&["install", "-y", package]);
        assert!(ok, "apt-get install {package} failed:\n{log}");
    }
}

/// A directory of this test process under `target/test-sandboxes`.
fn scratch(name: &str) -> PathBuf {
    let dir = workspace_root()
        .join("target/test-sandboxes")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

/// The packages of `arch` from `scripts/build-deb`, built once per test
/// process: server first, then puller.
fn packages(arch: &'static str) -> &'static [PathBuf] {
    static AMD64: OnceLock<Vec<PathBuf>> = OnceLock::new();
    static ARM64: OnceLock<Vec<PathBuf>> = OnceLock::new();
    let cell = if arch == "amd64" { &AMD64 } else { &ARM64 };
    cell.get_or_init(|| {
        // The script would install it too, but two of them at once could clash.
        ensure_tool("help2man", "help2man");
        let out = scratch(&format!("debs-{arch}"));
        // As `make deb` builds (and static_build.rs for arm64): one build for all.
        let mut build = Command::new(workspace_root().join("scripts/build-deb"));
        let printed = run(plain_cargo_env(&mut build).args([
            "--out".as_ref(),
            out.as_os_str(),
            arch.as_ref(),
        ]));
        // stdout says the packages, one a line; stderr (cargo's) has no .deb.
        let debs: Vec<PathBuf> = printed
            .lines()
            .filter(|l| l.ends_with(".deb"))
            .map(PathBuf::from)
            .collect();
        let expected: Vec<PathBuf> = PACKAGES
            .iter()
            .map(|(_, pkg)| out.join(format!("{pkg}_{VERSION}_{arch}.deb")))
            .collect();
        assert_eq!(debs, expected, "build-deb printed:\n{printed}");
        debs
    })
}

/// lintian on `debs`: panics on an error or a warning. The packages
/// override the warnings they earn on purpose (`scripts/debian/lintian-overrides`
/// says why), so a new one is news: fix it, or override it with a reason.
fn lint(debs: &[PathBuf]) {
    ensure_tool("lintian", "lintian");
    let (ok, report) = output(
        Command::new("lintian")
            .args(["--fail-on", "error,warning", "--display-info"])
            .args(["--tag-display-limit", "0"])
            .args(debs),
    );
    let bad: Vec<&str> = report
        .lines()
        .filter(|l| l.starts_with("E:") || l.starts_with("W:"))
        .collect();
    assert!(ok && bad.is_empty(), "lintian:\n{report}");
    eprintln!("lintian {debs:?}:\n{report}");
}

/// The entries of `deb` as `dpkg-deb -c` lists them, without sizes and times.
fn listing(deb: &Path) -> Vec<String> {
    let text = run(Command::new("dpkg-deb").arg("--contents").arg(deb));
    text.lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            format!("{} {} {}", f[0], f[1], f[5])
        })
        .collect()
}

#[test]
fn arm64_packages_pass_lintian_and_hold_static_aarch64_binaries() {
    let debs = packages("arm64");
    lint(debs);
    for deb in debs {
        let info = run(Command::new("dpkg-deb").args(["--field".as_ref(), deb.as_os_str()]));
        assert!(info.contains("\nArchitecture: arm64\n"), "{info}");
        let dir = scratch("arm64-unpacked");
        run(Command::new("dpkg-deb").arg("-x").arg(deb).arg(&dir));
        let bins: Vec<_> = std::fs::read_dir(dir.join("usr/bin")).unwrap().collect();
        assert_eq!(bins.len(), 1, "{deb:?} has one binary");
        let bin = bins[0].as_ref().unwrap().path();
        let desc = run(Command::new("file").arg("-b").arg(&bin));
        assert!(
            desc.contains("ARM aarch64") && desc.contains("statically linked"),
            "{desc}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
#[ignore = "builds the x86_64 release binaries, minutes on a cold target/"]
fn amd64_packages_pass_lintian_and_hold_what_arm64_ones_do() {
    let debs = packages("amd64");
    lint(debs);
    for (deb, arm64) in debs.iter().zip(packages("arm64")) {
        assert_eq!(listing(deb), listing(arm64));
    }
}

/// Every entry under `root` but dpkg's own `var/`: its relative path, 'd'
/// or 'f' and its mode. Panics on an entry root does not own (as root).
fn tree(root: &Path) -> BTreeMap<String, (char, u32)> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, (char, u32)>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if rel == "var" {
                continue;
            }
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if is_root() {
                assert_eq!((meta.uid(), meta.gid()), (0, 0), "{rel} is not root's");
            }
            let kind = if meta.is_dir() {
                'd'
            } else if meta.is_file() {
                'f'
            } else {
                'l'
            };
            out.insert(rel, (kind, meta.permissions().mode() & 0o7777));
            if meta.is_dir() {
                walk(root, &path, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// What installing both packages puts in the root: each file and directory
/// with its mode (every directory not listed is a 755 parent).
fn installed_tree() -> BTreeMap<String, (char, u32)> {
    let mut out = BTreeMap::new();
    for (bin, pkg) in PACKAGES {
        let entries = [
            (format!("usr/bin/{bin}"), 'f', 0o755),
            (format!("usr/lib/systemd/system/{bin}.service"), 'f', 0o644),
            (format!("etc/dbdump/{bin}.env"), 'f', 0o600),
            (format!("etc/dbdump/{bin}"), 'd', 0o700),
            (format!("usr/share/man/man1/{bin}.1.gz"), 'f', 0o644),
            (format!("usr/share/doc/{pkg}/copyright"), 'f', 0o644),
            (format!("usr/share/doc/{pkg}/changelog.gz"), 'f', 0o644),
            (format!("usr/share/lintian/overrides/{pkg}"), 'f', 0o644),
        ];
        for (path, kind, mode) in entries {
            for dir in Path::new(&path).ancestors().skip(1) {
                if !dir.as_os_str().is_empty() {
                    out.entry(dir.to_string_lossy().into_owned())
                        .or_insert(('d', 0o755));
                }
            }
            out.insert(path, (kind, mode));
        }
    }
    out
}

/// dpkg acting on the throwaway `root`. The root has no shell, so the
/// maintainer scripts run outside it with `$DPKG_ROOT` set, which they
/// honour (and then leave systemd alone). Not as root: under fakeroot.
fn dpkg(root: &Path) -> Command {
    let mut cmd = if is_root() {
        Command::new("dpkg")
    } else {
        ensure_tool("fakeroot", "fakeroot");
        let mut cmd = Command::new("fakeroot");
        cmd.args(["dpkg", "--force-not-root"]);
        cmd
    };
    cmd.arg(format!("--root={}", root.display()))
        .args(["--force-script-chrootless", "--log=/dev/null"]);
    cmd
}

/// dpkg's state of `pkg` in `root` (`ii`, `rc`), or "" when it knows none.
fn state(root: &Path, pkg: &str) -> String {
    let admin = root.join("var/lib/dpkg");
    let (_, text) = output(
        Command::new("dpkg-query")
            .arg(format!("--admindir={}", admin.display()))
            .args(["-W", "-f", "${db:Status-Abbrev}", pkg])
            .stderr(Stdio::null()),
    );
    text.trim().to_string()
}

fn native_arm64() -> bool {
    output(Command::new("dpkg").arg("--print-architecture"))
        .1
        .trim()
        == "arm64"
}

/// Runs the aarch64 binary `bin`, under qemu (which build-static installs)
/// unless this is an arm64 machine.
fn arm64_command(bin: &Path) -> Command {
    if native_arm64() {
        return Command::new(bin);
    }
    let mut cmd = Command::new("qemu-aarch64-static");
    cmd.arg(bin);
    cmd
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The installed files say what they should: the unit is the shipped one
/// with the binary in /usr/bin and a man page, the env file the example,
/// the binary runs, the man page has every flag, the copyright its license.
fn check_contents(root: &Path, bin: &str, pkg: &str) {
    let shipped = workspace_root().join("scripts/systemd");
    let unit = read(&root.join(format!("usr/lib/systemd/system/{bin}.service")));
    let source = read(&shipped.join(format!("{bin}.service")));
    let body = |text: &str| text[text.find("[Unit]").expect("[Unit]")..].to_string();
    let documented = format!("Documentation=man:{bin}(1)\n");
    assert_eq!(
        body(&unit).replacen(&documented, "", 1),
        body(&source).replace("/usr/local/bin/", "/usr/bin/"),
        "{bin}.service"
    );
    assert!(
        unit.contains(&format!("\nExecStart=/usr/bin/{bin}\n")),
        "{unit}"
    );
    assert!(
        unit.contains(&documented) && !unit.contains("/usr/local/"),
        "{unit}"
    );

    let env = format!("etc/dbdump/{bin}.env");
    assert_eq!(
        read(&root.join(&env)),
        read(&shipped.join(format!("{bin}.env")))
    );
    let conffiles = read(&root.join(format!("var/lib/dpkg/info/{pkg}.conffiles")));
    assert_eq!(conffiles, format!("/{env}\n"), "{pkg}'s conffiles");

    let version = run(arm64_command(&root.join("usr/bin").join(bin)).arg("--version"));
    assert_eq!(version.trim(), format!("{bin} {VERSION}"));
    let help = run(arm64_command(&root.join("usr/bin").join(bin)).arg("--help"));
    let man = run(Command::new("gzip")
        .arg("-dc")
        .arg(root.join(format!("usr/share/man/man1/{bin}.1.gz"))));
    for section in ["NAME", "SYNOPSIS", "DESCRIPTION", "FILES", "\"SEE ALSO\""] {
        assert!(
            man.contains(&format!("\n.SH {section}\n")),
            "{bin}.1: no {section}"
        );
    }
    // Each flag's line in --help: "  -s, --long METAVAR" or "  --long ...".
    let options = help.lines().filter(|l| l.trim_start().starts_with('-'));
    let words = options.flat_map(|l| l.split_whitespace().filter(|w| w.starts_with("--")));
    for flag in words {
        // The name alone: "--dry-run[=text|json]" is --dry-run.
        let flag = flag
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .next()
            .unwrap_or(flag);
        assert!(
            man.contains(&flag.replace('-', "\\-")),
            "{bin}.1 lacks {flag}"
        );
    }

    let copyright = read(&root.join(format!("usr/share/doc/{pkg}/copyright")));
    assert!(
        copyright.starts_with(
            "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
        ),
        "{copyright}"
    );
    assert!(copyright.contains("\nLicense: MIT\n"), "{copyright}");
    assert!(
        copyright.contains("\n mysql 28."),
        "crates listed: {copyright}"
    );
}

#[test]
fn install_enables_nothing_and_edits_survive_upgrade_and_removal() {
    let debs = packages("arm64");
    let root = scratch("debroot");
    for dir in ["info", "updates", "triggers"] {
        std::fs::create_dir_all(root.join("var/lib/dpkg").join(dir)).unwrap();
    }
    std::fs::write(root.join("var/lib/dpkg/status"), "").unwrap();
    if !native_arm64() {
        run(dpkg(&root).args(["--add-architecture", "arm64"]));
    }

    // Exactly these files: no link in etc/systemd enables a unit.
    let log = run(dpkg(&root).arg("--install").args(debs));
    assert_eq!(tree(&root), installed_tree(), "installed:\n{log}");
    for (bin, pkg) in PACKAGES {
        assert_eq!(state(&root, pkg), "ii");
        assert!(
            log.contains(&format!("{bin} is installed but not enabled"))
                && log.contains(&format!("systemctl enable --now {bin}\n")),
            "the postinst says what to do next:\n{log}"
        );
        check_contents(&root, bin, pkg);
    }

    // An administrator configures the server. An upgrade (the same version
    // again) keeps the edit without asking (stdin is closed).
    let env = root.join("etc/dbdump/dbd_server.env");
    let edited = read(&env) + "DBD_SOURCE_HOST=db.internal\n";
    std::fs::write(&env, &edited).unwrap();
    let password = root.join("etc/dbdump/dbd_server/source-password");
    std::fs::write(&password, "secret\n").unwrap();
    std::fs::set_permissions(&password, std::fs::Permissions::from_mode(0o600)).unwrap();
    let log = run(dpkg(&root).arg("--install").args(debs));
    assert!(!log.contains("is installed but not enabled"), "{log}");
    assert_eq!(read(&env), edited, "after an upgrade");

    // Removing both packages keeps the configuration, edited, and the
    // secrets' directory that holds a file (the puller's empty one goes).
    run(dpkg(&root).args(["--remove", "dbdump-server", "dbdump-puller"]));
    let kept: BTreeMap<String, (char, u32)> = [
        ("etc", 'd', 0o755),
        ("etc/dbdump", 'd', 0o755),
        ("etc/dbdump/dbd_server.env", 'f', 0o600),
        ("etc/dbdump/dbd_puller.env", 'f', 0o600),
        ("etc/dbdump/dbd_server", 'd', 0o700),
        ("etc/dbdump/dbd_server/source-password", 'f', 0o600),
    ]
    .into_iter()
    .map(|(p, k, m)| (p.to_string(), (k, m)))
    .collect();
    assert_eq!(tree(&root), kept, "after dpkg --remove");
    assert_eq!(read(&env), edited);
    assert_eq!(read(&password), "secret\n");
    for (_, pkg) in PACKAGES {
        assert_eq!(
            state(&root, pkg),
            "rc",
            "{pkg}: only its configuration left"
        );
    }

    // A purge deletes the configuration and the secrets: nothing is left.
    run(dpkg(&root).args(["--purge", "dbdump-server", "dbdump-puller"]));
    assert_eq!(tree(&root), BTreeMap::new(), "after dpkg --purge");
    for (_, pkg) in PACKAGES {
        assert_eq!(state(&root, pkg), "", "{pkg} is forgotten");
    }
    let _ = std::fs::remove_dir_all(&root);
}
