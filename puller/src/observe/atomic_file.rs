//! Replacing a file so that a reader never sees half of it, even if this
//! process is killed or the machine loses power mid-write: the new text goes
//! to a temporary file in the same directory, is synced to disk, and is
//! renamed over the old one (a rename within a file system is atomic).

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The temporary file beside `path`: hidden, and not ending like the
/// target (node_exporter's textfile collector reads `*.prom` only).
fn temporary(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// Removes the temporary files of `path` left by pullers that were killed
/// mid-write (their process is gone), so that they do not pile up.
pub fn remove_stale(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let prefix = format!(".{}.", name.to_string_lossy());
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let pid = file
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(".tmp"))
            .and_then(|pid| pid.parse::<u32>().ok());
        if pid.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists()) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Creates the temporary file anew: never through something already at
/// its (predictable) name, such as a symbolic link another account planted
/// to have this process overwrite a file of its choosing.
fn create_new(tmp: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let open = || {
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(tmp)
    };
    match open() {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            // Our own leftover, or a planted link: remove the name (never
            // what a link points to) and try once more.
            fs::remove_file(tmp)?;
            open()
        }
        other => other,
    }
}

/// Replaces `path` with `bytes`, atomically.
pub fn replace(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = temporary(path);
    let written = create_new(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    if let Err(e) = written.and_then(|_| fs::rename(&tmp, path)) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    // The rename itself, on disk too (best effort: not every file system
    // lets a directory be opened for that).
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_and_leaves_no_temporary_file() {
        let dir = std::env::temp_dir().join(format!("dbdump-atomic-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("status.json");
        replace(&path, b"{\"a\":1}").unwrap();
        replace(&path, b"{\"a\":2}").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "{\"a\":2}");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        let stale = dir.join(".status.json.4000000000.tmp");
        fs::write(&stale, "half").unwrap();
        let ours = temporary(&path);
        fs::write(&ours, "mine, being written").unwrap();
        remove_stale(&path);
        assert!(
            !stale.exists() && ours.exists(),
            "only a dead process's file goes"
        );
        fs::remove_file(&ours).unwrap();
        let missing = dir.join("no/such/dir/x.json");
        assert!(replace(&missing, b"x").is_err());
        fs::remove_dir_all(&dir).unwrap();
    }
}
