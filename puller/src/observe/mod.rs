//! Telling how the sync goes: progress lines of long table syncs
//! (`progress`), the status document (`status`) that `monitor` keeps and
//! writes as JSON and, rendered by `metrics`, in Prometheus text, each file
//! replaced atomically (`atomic_file`), and what `--dry-run` found
//! (`dry_run`: its figures, lines and JSON document). Uses `config` and the
//! source's clock; the pass reports here, nothing here drives the sync.

pub mod atomic_file;
pub mod dry_run;
pub mod metrics;
pub mod monitor;
pub mod progress;
pub mod status;
