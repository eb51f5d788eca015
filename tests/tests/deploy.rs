//! Running as a service: the systemd units in `scripts/systemd/` pass
//! `systemd-analyze verify`, every `DBD_*` variable they and the example
//! environment files set is a flag of their binary (a misspelt one would be
//! ignored silently), every credential they read is one the unit loads, and
//! the database accounts need no more than the README's Privileges grant.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use dbdump_tests::*;

const BINARIES: [&str; 2] = ["dbd_server", "dbd_puller"];

fn shipped(file: &str) -> String {
    let path = workspace_root().join("scripts/systemd").join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `DBD_*` names assigned in `text`, commented-out lines included.
fn assigned_variables(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    for (start, _) in text.match_indices("DBD_") {
        let rest = &text[start..];
        let end = rest
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(rest.len());
        if rest[end..].starts_with('=') {
            names.push(rest[..end].to_string());
        }
    }
    names
}

/// The credential IDs a text reads: `%d/ID` and `/run/credentials/UNIT/ID`.
fn credentials_read(text: &str, unit: &str) -> Vec<String> {
    let prefixes = ["%d/".to_string(), format!("/run/credentials/{unit}/")];
    let mut ids = Vec::new();
    for prefix in &prefixes {
        for (start, _) in text.match_indices(prefix.as_str()) {
            let rest = &text[start + prefix.len()..];
            let id = rest.split(|c: char| c.is_whitespace()).next().unwrap_or("");
            ids.push(id.to_string());
        }
    }
    ids
}

#[test]
fn every_variable_is_a_flag_and_every_credential_is_loaded() {
    for name in BINARIES {
        let out = Command::new(bin(name))
            .arg("--help")
            .output()
            .expect("--help");
        let help = String::from_utf8_lossy(&out.stdout);
        let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
        let unit_name = format!("{name}.service");
        let unit = shipped(&unit_name);
        for file in [unit_name.clone(), format!("{name}.env")] {
            let text = shipped(&file);
            let names = assigned_variables(&text);
            assert!(names.len() >= 3, "{file} sets hardly anything: {names:?}");
            for var in names {
                let listed = format!("[env: {var}]");
                assert!(help.contains(&listed), "{file}: {var} is no flag of {name}");
            }
            // The credentials directory is named after the unit.
            let stray = text.matches("/run/credentials/").count();
            let ours = text
                .matches(&format!("/run/credentials/{unit_name}"))
                .count();
            assert_eq!(stray, ours, "{file} reads another unit's credentials");
            for id in credentials_read(&text, &unit_name) {
                let loaded = format!("LoadCredential={id}:");
                assert!(
                    unit.contains(&loaded),
                    "{file} reads {id}, which {unit_name} does not load"
                );
            }
        }
    }
}

#[test]
fn the_systemd_units_pass_systemd_analyze_verify() {
    let available = Command::new("systemd-analyze").arg("--version").output();
    if !available.is_ok_and(|o| o.status.success()) {
        println!("note: systemd-analyze not found; the systemd units were not verified");
        return;
    }
    let dir = std::env::temp_dir().join(unique_name("units"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for name in BINARIES {
        let unit_name = format!("{name}.service");
        let shipped_text = shipped(&unit_name);
        // verify insists that ExecStart= exists: point it at this build.
        let installed = format!("ExecStart=/usr/local/bin/{name}\n");
        assert!(
            shipped_text.contains(&installed),
            "{unit_name}: {installed}"
        );
        let built = format!("ExecStart={}\n", bin(name).display());
        let path: PathBuf = dir.join(&unit_name);
        std::fs::write(&path, shipped_text.replace(&installed, &built)).expect("write unit");
        let out = Command::new("systemd-analyze")
            .args(["verify", "--man=no"])
            .arg(&path)
            .stdin(Stdio::null())
            .output()
            .expect("run systemd-analyze");
        let said = String::from_utf8_lossy(&out.stderr).into_owned()
            + &String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "systemd-analyze verify {unit_name}:\n{said}"
        );
        // Warnings (an ignored line, an unknown setting) do not fail verify.
        let about_ours: Vec<&str> = said.lines().filter(|l| l.contains(name)).collect();
        assert!(
            about_ours.is_empty(),
            "{unit_name}:\n{}",
            about_ours.join("\n")
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_privileges_the_readme_lists_are_enough() {
    let (src, dst) = pair();
    let db = unique_name("deploy_grants");
    let user = unique_name("grants");
    src.exec(&format!(
        "CREATE DATABASE {0}; USE {0};
         CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(20),
           ts TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP);
         INSERT INTO t VALUES (1, 'one', '2020-01-01 00:00:00'), (2, 'two', '2020-01-02 00:00:00');
         CREATE USER '{user}'@'%' IDENTIFIED BY 'src-pw';
         GRANT SELECT ON {0}.* TO '{user}'@'%'; GRANT PROCESS ON *.* TO '{user}'@'%';",
        ident(&db)
    ));
    copy_schema(src, &db, dst, &db);
    dst.exec(&format!(
        "CREATE USER '{user}'@'%' IDENTIFIED BY 'dst-pw';
         GRANT SELECT, INSERT, UPDATE ON {}.* TO '{user}'@'%'",
        ident(&db)
    ));
    let server = Server::start_with_env(
        src,
        &["--source-username", &user, "--source-databases", &db],
        &[("DBD_SOURCE_PASSWORD", "src-pw")],
    );
    let pass = || {
        let mut cmd = puller_command(server.port, dst, &db, &db, &["--dest-username", &user]);
        let out = cmd
            .env("DBD_DEST_PASSWORD", "dst-pw")
            .output()
            .expect("puller");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(0), "{stderr}");
    };
    pass();
    // The second pass updates a row the first one inserted.
    src.exec(&format!(
        "UPDATE {} SET a = 'uno', ts = '2020-01-03 00:00:00' WHERE id = 1",
        qualified(&db, "t")
    ));
    pass();
    assert_same(src, &db, dst, &db, &["t"]);
    let log = server.log_text();
    assert!(!log.contains("PROCESS privilege"), "{log}");
}
