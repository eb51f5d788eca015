//! dbd_puller's flags, in one table: names, short forms and defaults are
//! the original tool's; parsing, `--help`, the usage line and the
//! environment variables all come from it (`dbdump_shared::cli`).

use dbdump_shared::cli::{bare, flag, required, Flag, Group, Spec};

const GENERAL: usize = 0;
const SOURCE: usize = 1;
const DEST: usize = 2;
const SYNC: usize = 3;
const CONVERGE: usize = 4;
const MONITOR: usize = 5;
const DRY_RUN: usize = 6;

static GROUPS: &[Group] = &[
    Group {
        title: "optional arguments",
        about: "",
    },
    Group {
        title: "Source",
        about: "Source dbd_server (that changes are read from)",
    },
    Group {
        title: "Destination",
        about: "Destination MySQL database server (that changes get written to)",
    },
    Group {
        title: "Sync",
        about: "Synchronization options",
    },
    Group {
        title: "Convergence",
        about: "Deletes and drift: found by comparing digests of primary key ranges on both sides, so that only the rows that differ move",
    },
    Group {
        title: "Monitoring",
        about: "Progress of long table syncs, and how fresh the copy is, for people and for monitors",
    },
    Group {
        title: "Dry run",
        about: "What a pass would change, found by reading and comparing as it would, changing nothing",
    },
];

static FLAGS: &[Flag] = &[
    required(flag("--source-host", None, Some("HOST_OR_IP"), None, SOURCE, "dbdump web server")),
    flag("--source-port", None, Some("PORT"), Some("8888"), SOURCE, "dbdump web server port"),
    flag("--source-username", None, Some("USERNAME"), None, SOURCE, "dbdump username"),
    flag("--source-password", None, Some("PASSWORD"), None, SOURCE, "dbdump password"),
    flag("--source-password-file", None, Some("FILE"), None, SOURCE, "Read the dbdump password from the first line of FILE"),
    required(flag("--source-database", None, Some("DATABASE"), None, SOURCE, "Source database name")),
    flag("--source-timeout", None, Some("SECONDS"), Some("15"), SOURCE, "Seconds to wait before timing out a connection attempt, or a stalled response"),
    flag("--source-ssl", None, None, None, SOURCE, "Talk HTTPS to the dbd_server"),
    flag("--source-ssl-ca", None, Some("FILE"), None, SOURCE, "PEM certificate(s) to trust for HTTPS: a server presenting one of them byte for byte is trusted as it is (pinned, like an SSH host key: the server's own ssl.crt, self-signed or made by the original's genkey); any other certificate must be signed by one of them and name the host (default: the system's CA bundle); implies --source-ssl"),
    flag("--source-compress", None, Some("yes|no"), None, SOURCE, "Ask dbd_server for gzip-compressed streams and digests (NDJSON shrinks to about a third: what a slow or metered link needs); --source-compress=no on a fast link where CPU is scarcer than bandwidth (default: yes, but no when --source-host is this machine, localhost, 127.0.0.0/8 or ::1, without --source-proxy: no link to save, and the CPU is the databases')"),
    flag("--source-proxy", None, Some("URL"), None, SOURCE, "HTTP proxy to reach the dbd_server through, http://[USER:PASSWORD@]HOST:PORT, or 'direct' for none (default: https_proxy / http_proxy unless no_proxy names the server, as curl reads them)"),
    required(flag("--dest-host", None, Some("HOST_OR_IP"), None, DEST, "Database server host")),
    flag("--dest-port", None, Some("PORT"), Some("3306"), DEST, "Database server port"),
    required(flag("--dest-username", None, Some("USERNAME"), None, DEST, "Database user")),
    flag("--dest-password", None, Some("PASSWORD"), None, DEST, "Database password"),
    flag("--dest-password-file", None, Some("FILE"), None, DEST, "Read the database password from the first line of FILE"),
    required(flag("--dest-database", None, Some("DATABASE"), None, DEST, "Destination database name")),
    flag("--tables", Some("-t"), Some("table1[.column[:s|:ms]],tableN,..."), None, SYNC, "Ordered list of tables to sync (default: every table dbd_server can sync, parents before children: by its auto-updating TIMESTAMP column, else by digests of its primary or NOT NULL UNIQUE key, else whole). table.column syncs a table by that column, which its application sets: DATETIME or TIMESTAMP (Rails', Django's, Laravel's updated_at; created_at of an append-only table), an INT or BIGINT of Unix time with its unit (table.column:s for seconds, :ms for milliseconds), or 14 characters of YYYYMMDDHHMMSS in UTC (MediaWiki); *.column does so for every such table that has the column, plus the tables synced as they are, * for those alone (the server's listing shows which tables take which columns)"),
    flag("--exclude-columns", Some("-x"), Some("table1.column1,tableN.columnN,..."), None, SYNC, "Columns to exclude from synchronization (table and column split at the first dot)"),
    flag("--app-time-zone", None, Some("ZONE"), Some("UTC"), SYNC, "The time zone in which the application writes the DATETIME columns named with -t table.column: a name (America/New_York; needs the source database's time zone tables), an offset (+05:30) or SYSTEM (the source database server's own zone). TIMESTAMP columns hold instants and need none"),
    flag("--copy-streams", None, Some("N"), Some("2"), SYNC, "First copies (an empty destination table): copy N key ranges at once, each in key order, over N streams from dbd_server and N connections to the destination (at most the server's --listen-max-per-client); a killed first copy resumes from the ranges already done"),
    flag("--poll-interval", None, Some("seconds"), None, SYNC, "Polling interval between pull requests (if unspecified, polling will be disabled)"),
    flag("--create-tables", None, None, None, SYNC, "Create the destination database and each missing table from the source's definition (columns, keys, foreign keys; not triggers) before its first rows, and add a column the source gained before that table's next rows; a column the source dropped or retyped stops that table with an error"),
    flag("--ignore-database-errors", None, None, None, SYNC, "When the destination database refuses a table's rows (an ERROR it returns: data too long, duplicate key, a trigger, a missing privilege), log it and skip that table until the next pass instead of failing: the exit code stays 0 and polling does not back off. Rows are never skipped one by one (the table stays at its last good batch), and an unreachable destination still fails"),
    flag("--deletes", None, None, None, CONVERGE, "After a table's pass, delete destination rows whose primary key no longer exists on the source (found by comparing key digests; off by default: the original tool never deleted). With --poll-interval, one table per poll, in turn"),
    flag("--verify", None, None, None, CONVERGE, "After a table's pass, compare whole-row digests too and repair what differs: delete rows the source lacks, re-fetch rows that are missing or different. With --poll-interval, one table per poll, in turn"),
    flag("--force-resync", Some("-f"), None, None, CONVERGE, "Bring every table back in line with the source now: a --verify pass of each (with --poll-interval, one table per poll)"),
    flag("--resync-interval", None, Some("POLLS"), None, CONVERGE, "With --poll-interval: every POLLS polls, queue a --verify pass of every table (done one table per poll)"),
    flag("--max-delete-percent", None, Some("PERCENT"), Some("50"), CONVERGE, "Refuse a pass that would delete more than this share of a table's destination rows, or that finds the source table empty: that table stops with an error naming the numbers"),
    flag("--force-deletes", None, None, None, CONVERGE, "Delete even past --max-delete-percent or when the source table reads as empty"),
    flag("--digest-interval", None, Some("SECONDS"), None, CONVERGE, "With --poll-interval: compare a table synced by digests (or whole) that changed at most every SECONDS (default: ten times as long as its last comparison took, so that hashing it costs at most a tenth of the time); a table the source shows unchanged is not compared at all"),
    flag("--max-whole-rows", None, Some("ROWS"), Some("1000000"), CONVERGE, "Largest table without a key that is copied whole (in one transaction, replacing the destination's rows) when its digest differs; a bigger one is refused with a line that says so"),
    flag("--progress-interval", None, Some("SECONDS"), Some("10"), MONITOR, "A table sync running longer than this logs a progress line every SECONDS: rows so far, rate, the source's estimate of the total, percent and time left (on a terminal, one line updated in place from 2 s on, or from SECONDS if shorter)"),
    flag("--status-file", None, Some("FILE"), None, MONITOR, "Keep a JSON status document in FILE, replaced atomically after tables and passes: per table its last success, horizon (complete up to that source time), lag, rows applied, last error and consecutive failures; per pass its start, end and outcome"),
    flag("--metrics-file", None, Some("FILE"), None, MONITOR, "Keep the same figures in FILE in Prometheus text format, for node_exporter's textfile collector (a *.prom file in its directory)"),
    bare(flag("--dry-run", None, Some("text|json"), None, DRY_RUN, "Make one pass that reads and compares as the other flags ask, and changes nothing on the destination: no INSERT, UPDATE, DELETE or DDL, no table comment marks (an account with only SELECT will do). It tells, per table, the method, the rows it would apply, with --deletes/--verify the rows it would delete and repair (with example keys), the tables --create-tables would create or alter, and why a table would be skipped; on stdout as lines, or with --dry-run=json as one JSON document; in --status-file too. Exit code 0 when nothing would change, 4 when something would. Not with --poll-interval"), "text"),
    flag("--dry-run-examples", None, Some("N"), Some("5"), DRY_RUN, "With --dry-run: up to N example keys, per table, of the rows it would delete and of those it would repair"),
    flag("--debug", Some("-d"), None, None, GENERAL, "Enable debug mode"),
];

pub static SPEC: Spec = Spec {
    name: "dbd_puller",
    about: "Pulls changes from a dbd_server",
    groups: GROUPS,
    flags: FLAGS,
    epilog: "Every flag can also be set with the environment variable shown; a flag on the\n\
             command line wins. Exit codes: 0 every table synced (or polling stopped by\n\
             SIGTERM/SIGINT), 1 some table failed (one line each on stderr; not one that\n\
             --ignore-database-errors skipped), 2 bad command line, 3 interrupted by\n\
             SIGTERM/SIGINT before a one-shot pass finished (the destination is\n\
             consistent; run again to complete), 4 --dry-run found something a pass\n\
             would change (0: nothing).",
};
