//! Every table arrives: tables modelled on WordPress (options, post meta,
//! terms and their join table), Moodle (`timemodified`, Unix seconds),
//! Mattermost (`UpdateAt`, Unix milliseconds, string keys), MediaWiki
//! (`page_touched`, BINARY(14) `YYYYMMDDHHMMSS`), a table with only a
//! UNIQUE NOT NULL key and a keyless log, synced by their methods: by
//! digests, by integer and text cursors, by unique keys, whole. One test
//! binary (one pair of MariaDB servers), one file per capability.

mod apps;
mod cursors;
mod keys;
mod safety;
mod whole;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use dbdump_tests::*;

/// The application-shaped tables, as their applications declare them.
pub const APPS: &str = "
CREATE TABLE wp_options (option_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  option_name VARCHAR(191) NOT NULL DEFAULT '', option_value LONGTEXT NOT NULL,
  autoload VARCHAR(20) NOT NULL DEFAULT 'yes', PRIMARY KEY (option_id),
  UNIQUE KEY option_name (option_name), KEY autoload (autoload)) DEFAULT CHARSET=utf8mb4;
CREATE TABLE wp_postmeta (meta_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  post_id BIGINT UNSIGNED NOT NULL DEFAULT 0, meta_key VARCHAR(255) DEFAULT NULL,
  meta_value LONGTEXT, PRIMARY KEY (meta_id), KEY post_id (post_id),
  KEY meta_key (meta_key(191))) DEFAULT CHARSET=utf8mb4;
CREATE TABLE wp_terms (term_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  name VARCHAR(200) NOT NULL DEFAULT '', slug VARCHAR(200) NOT NULL DEFAULT '',
  term_group BIGINT(10) NOT NULL DEFAULT 0, PRIMARY KEY (term_id), KEY slug (slug(191)))
  DEFAULT CHARSET=utf8mb4;
CREATE TABLE wp_term_relationships (object_id BIGINT UNSIGNED NOT NULL DEFAULT 0,
  term_taxonomy_id BIGINT UNSIGNED NOT NULL DEFAULT 0, term_order INT NOT NULL DEFAULT 0,
  PRIMARY KEY (object_id, term_taxonomy_id), KEY term_taxonomy_id (term_taxonomy_id));
CREATE TABLE mdl_course (id BIGINT NOT NULL AUTO_INCREMENT, category BIGINT NOT NULL DEFAULT 0,
  fullname VARCHAR(1333) NOT NULL DEFAULT '', shortname VARCHAR(255) NOT NULL DEFAULT '',
  timecreated BIGINT NOT NULL DEFAULT 0, timemodified BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (id), KEY mdl_cour_tim_ix (timemodified));
CREATE TABLE Posts (Id VARCHAR(26) NOT NULL, CreateAt BIGINT, UpdateAt BIGINT,
  DeleteAt BIGINT NOT NULL DEFAULT 0, UserId VARCHAR(26), Message TEXT,
  PRIMARY KEY (Id), KEY idx_posts_update_at (UpdateAt));
CREATE TABLE page (page_id INT UNSIGNED NOT NULL AUTO_INCREMENT, page_namespace INT NOT NULL,
  page_title VARBINARY(255) NOT NULL, page_touched BINARY(14) NOT NULL,
  page_len INT UNSIGNED NOT NULL, PRIMARY KEY (page_id),
  UNIQUE KEY page_name_title (page_namespace, page_title), KEY page_touched (page_touched));
CREATE TABLE sessions (token CHAR(32) NOT NULL, user_id INT NULL, data TEXT,
  UNIQUE KEY by_user (user_id), UNIQUE KEY token (token));
CREATE TABLE import_log (at DATETIME NOT NULL, level VARCHAR(10), message TEXT);
";

/// Rows for [`APPS`]: placeholders (a `timemodified` of 0, an empty and a
/// far-future `page_touched`, NULL `UpdateAt`s) and duplicate log lines
/// included, all cursor values in the past.
pub const SEED: &str = "
SET time_zone = '+00:00';
INSERT INTO wp_options (option_name, option_value, autoload)
  SELECT CONCAT('option_', seq), REPEAT(CHAR(97 + seq % 26), seq % 50), IF(seq % 3, 'yes', 'no')
  FROM seq_1_to_200;
INSERT INTO wp_postmeta (post_id, meta_key, meta_value)
  SELECT seq % 97, IF(seq % 11 = 0, NULL, CONCAT('_key', seq % 13)), CONCAT('value ', seq)
  FROM seq_1_to_1000;
INSERT INTO wp_terms (name, slug, term_group) SELECT CONCAT('Term ', seq), CONCAT('term-', seq), 0
  FROM seq_1_to_100;
INSERT INTO wp_term_relationships SELECT seq DIV 5, seq % 100, seq % 3 FROM seq_1_to_500;
INSERT INTO mdl_course (category, fullname, shortname, timecreated, timemodified)
  SELECT seq % 7, CONCAT('Course ', seq), CONCAT('C', seq), 1700000000 + seq,
         IF(seq % 25 = 0, 0, 1700000000 + seq * 60) FROM seq_1_to_300;
INSERT INTO Posts (Id, CreateAt, UpdateAt, UserId, Message)
  SELECT LEFT(MD5(seq), 26), 1700000000000 + seq, IF(seq % 30 = 0, NULL, 1700000000000 + seq * 997),
         LEFT(MD5(seq % 9), 26), CONCAT('message ', seq) FROM seq_1_to_300;
INSERT INTO page (page_namespace, page_title, page_touched, page_len)
  SELECT seq % 4, CONCAT('Page_', seq),
         CASE WHEN seq % 40 = 0 THEN '' WHEN seq % 41 = 0 THEN '99999999999999'
              ELSE DATE_FORMAT('2024-01-01' + INTERVAL seq HOUR, '%Y%m%d%H%i%s') END,
         seq * 10 FROM seq_1_to_300;
INSERT INTO sessions SELECT MD5(seq), IF(seq % 10 = 0, NULL, seq), CONCAT('data ', seq)
  FROM seq_1_to_100;
INSERT INTO import_log SELECT '2024-01-01' + INTERVAL (seq % 50) MINUTE, 'info',
  CONCAT('line ', seq % 150) FROM seq_1_to_200;
";

/// Every table of [`APPS`].
pub const TABLES: &[&str] = &[
    "wp_options",
    "wp_postmeta",
    "wp_terms",
    "wp_term_relationships",
    "mdl_course",
    "Posts",
    "page",
    "sessions",
    "import_log",
];

/// `-t` for [`APPS`]: the cursor tables by their cursors, every other
/// table by its method.
pub const CURSORS: &str = "mdl_course.timemodified:s,Posts.UpdateAt:ms,page.page_touched,*";

/// A fresh source database of `prefix` with [`APPS`] and [`SEED`], and a
/// server exposing only it (no settle margin: tests wait out the cursors'
/// precision instead): (database, copy, server).
pub fn apps(prefix: &str) -> (String, String, Server) {
    let src = &pair().0;
    let db = unique_name(prefix);
    src.exec(&format!(
        "CREATE DATABASE {0}; USE {0}; {APPS} {SEED}",
        ident(&db)
    ));
    let server = Server::start(src, &["--source-databases", &db, "--settle", "0"]);
    (db.clone(), format!("{db}_copy"), server)
}

/// A writer changing every table of [`APPS`] in `db` (inserts, updates
/// setting the cursors as their applications do, deletes) until `stop`;
/// returns how many statements it ran.
pub fn start_writer(src: &'static Sandbox, db: &str, stop: Arc<AtomicBool>) -> JoinHandle<u32> {
    let db = db.to_string();
    std::thread::spawn(move || {
        let mut conn = src.conn();
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut n = 0u32;
        use mysql::prelude::Queryable;
        conn.query_drop(format!("USE {}", ident(&db)))
            .expect("USE the database");
        while !stop.load(Ordering::Relaxed) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let k = x % 400 + 1;
            let sql = match x % 16 {
                0 => format!(
                    "INSERT INTO wp_options (option_name, option_value) VALUES ('new_{k}_{n}', 'v') \
                     ON DUPLICATE KEY UPDATE option_value = 'again'"
                ),
                1 => format!("UPDATE wp_options SET option_value = 'changed {n}' WHERE option_id = {k}"),
                2 => format!("DELETE FROM wp_postmeta WHERE meta_id = {}", k * 2),
                3 => format!("INSERT INTO wp_postmeta (post_id, meta_key, meta_value) VALUES ({k}, '_n', '{n}')"),
                4 => format!(
                    "UPDATE mdl_course SET fullname = 'renamed {n}', timemodified = UNIX_TIMESTAMP() WHERE id = {k}"
                ),
                5 => format!(
                    "INSERT INTO mdl_course (fullname, timecreated, timemodified) \
                     VALUES ('new {n}', UNIX_TIMESTAMP(), UNIX_TIMESTAMP())"
                ),
                6 => format!("DELETE FROM mdl_course WHERE id = {k}"),
                7 => format!(
                    "UPDATE Posts SET Message = 'edited {n}', UpdateAt = FLOOR(UNIX_TIMESTAMP(NOW(3)) * 1000) \
                     WHERE Id = LEFT(MD5({k}), 26)"
                ),
                8 => format!(
                    "INSERT IGNORE INTO Posts (Id, CreateAt, UpdateAt, Message) VALUES (LEFT(MD5('w{n}'), 26), \
                     FLOOR(UNIX_TIMESTAMP(NOW(3)) * 1000), FLOOR(UNIX_TIMESTAMP(NOW(3)) * 1000), 'new')"
                ),
                9 => format!(
                    "UPDATE page SET page_len = page_len + 1, \
                     page_touched = DATE_FORMAT(UTC_TIMESTAMP(), '%Y%m%d%H%i%s') WHERE page_id = {k}"
                ),
                10 => format!("DELETE FROM wp_term_relationships WHERE object_id = {}", k % 100),
                11 => format!("INSERT IGNORE INTO wp_term_relationships VALUES ({k}, {}, 1)", n % 100),
                12 => format!("REPLACE INTO sessions VALUES (MD5({k}), {k}, 'replaced {n}')"),
                13 => format!("DELETE FROM sessions WHERE token = MD5({})", k % 120),
                14 => format!("INSERT INTO import_log VALUES (UTC_TIMESTAMP(), 'warn', 'written {n}')"),
                _ => "DELETE FROM import_log LIMIT 1".to_string(),
            };
            conn.query_drop(&sql)
                .unwrap_or_else(|e| panic!("writer: {e}\n{sql}"));
            n += 1;
        }
        n
    })
}
