//! Harness for the network-edge tests (`tests/tests/edge.rs`, `proxy.rs`,
//! `fuzz.rs`): client sockets from another loopback address (the server
//! counts connections per client address), a look at a process's threads
//! and memory in `/proc`, a Sakila-shaped database, a self-signed
//! certificate, and a real HTTP proxy ([`tinyproxy`]).

use std::io;
use std::net::{Ipv4Addr, TcpStream};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::{copy_schema, ident, pair, scratch_dir, unique_name, workspace_root, Sandbox, Server};

pub mod tinyproxy;

/// The C library's socket calls: std cannot bind a client socket to a
/// chosen address before connecting, and the project takes no crate for
/// three calls (Linux only, like `/proc` below).
mod sys {
    #[repr(C)]
    pub struct SockaddrIn {
        pub family: u16,
        /// Network byte order.
        pub port: u16,
        pub addr: [u8; 4],
        pub zero: [u8; 8],
    }
    pub const AF_INET: i32 = 2;
    pub const SOCK_STREAM_CLOEXEC: i32 = 1 | 0o2_000_000;
    extern "C" {
        pub fn socket(domain: i32, kind: i32, protocol: i32) -> i32;
        pub fn bind(fd: i32, addr: *const SockaddrIn, len: u32) -> i32;
        pub fn connect(fd: i32, addr: *const SockaddrIn, len: u32) -> i32;
    }
}

fn sockaddr(ip: Ipv4Addr, port: u16) -> sys::SockaddrIn {
    sys::SockaddrIn {
        family: sys::AF_INET as u16,
        port: port.to_be(),
        addr: ip.octets(),
        zero: [0; 8],
    }
}

/// A TCP connection to `127.0.0.1:port` from `from` (any 127.x.y.z works on
/// Linux loopback): what a second client machine looks like to the server.
pub fn connect_from(from: Ipv4Addr, port: u16) -> io::Result<TcpStream> {
    let len = std::mem::size_of::<sys::SockaddrIn>() as u32;
    // SAFETY: plain syscalls on a descriptor this function owns from the
    // start (closed by `OwnedFd` on every path), with pointers to live
    // structs of the length passed.
    unsafe {
        let fd = sys::socket(sys::AF_INET, sys::SOCK_STREAM_CLOEXEC, 0);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let owned = OwnedFd::from_raw_fd(fd);
        if sys::bind(fd, &sockaddr(from, 0), len) != 0 {
            return Err(io::Error::last_os_error());
        }
        if sys::connect(fd, &sockaddr(Ipv4Addr::LOCALHOST, port), len) != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(TcpStream::from(owned))
    }
}

/// The second client address of the tests: the attacker, the slow reader.
pub const OTHER_CLIENT: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// A field of `/proc/<pid>/status` (e.g. `Threads`, `VmRSS` in kB).
pub fn proc_status(pid: u32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("cannot read /proc/{pid}/status: {e}"));
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// Tables of [`sakila_pair`], parents first.
pub const SAKILA_TABLES: &[&str] = &[
    "language",
    "category",
    "actor",
    "film",
    "film_actor",
    "film_category",
    "country",
    "city",
    "address",
    "store",
    "staff",
    "customer",
    "inventory",
    "rental",
    "payment",
];

/// Sakila's shape, cut down: the same tables, keys, foreign keys (the
/// store <-> staff cycle included) and column types, a few hundred rows
/// each, every timestamp in the past so that nothing waits for the horizon.
const SAKILA: &str = "
CREATE TABLE language (language_id TINYINT UNSIGNED PRIMARY KEY, name CHAR(20) NOT NULL,
  last_update TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP, KEY (last_update));
CREATE TABLE category (category_id TINYINT UNSIGNED PRIMARY KEY, name VARCHAR(25) NOT NULL,
  last_update TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP, KEY (last_update));
CREATE TABLE actor (actor_id SMALLINT UNSIGNED PRIMARY KEY, first_name VARCHAR(45) NOT NULL,
  last_name VARCHAR(45) NOT NULL,
  last_update TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP, KEY (last_update));
CREATE TABLE film (film_id SMALLINT UNSIGNED PRIMARY KEY, title VARCHAR(128) NOT NULL, description TEXT,
  release_year YEAR, language_id TINYINT UNSIGNED NOT NULL, rental_rate DECIMAL(4,2) NOT NULL DEFAULT 4.99,
  length SMALLINT UNSIGNED, rating ENUM('G','PG','PG-13','R','NC-17') DEFAULT 'G',
  special_features SET('Trailers','Commentaries','Deleted Scenes','Behind the Scenes'),
  last_update TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP, KEY (last_update),
  FOREIGN KEY (language_id) REFERENCES language (language_id));
CREATE TABLE film_actor (actor_id SMALLINT UNSIGNED NOT NULL, film_id SMALLINT UNSIGNED NOT NULL,
  last_update TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP, KEY (last_update),
  PRIMARY KEY (actor_id, film_id), FOREIGN KEY (actor_id) REFERENCES actor (actor_id),
  FOREIGN KEY (film_id) REFERENCES film (film_id));
CREATE TABLE film_category (film_id SMALLINT UNSIGNED NOT NULL, category_id TINYINT UNSIGNED NOT NULL,
  last_update TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP, KEY (last_update),
  PRIMARY KEY (film_id, category_id), FOREIGN KEY (film_id) REFERENCES film (film_id),
  FOREIGN KEY (category_id) REFERENCES category (category_id));
CREATE TABLE country (country_id SMALLINT UNSIGNED PRIMARY KEY, country VARCHAR(50) NOT NULL,
  last_update TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP, KEY (last_update));
CREATE TABLE city (city_id SMALLINT UNSIGNED PRIMARY KEY, city VARCHAR(50) NOT NULL,
  country_id SMALLINT UNSIGNED NOT NULL,
  last_update TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP, KEY (last_update),
  FOREIGN KEY (country_id) REFERENCES country (country_id));
CREATE TABLE address (address_id SMALLINT UNSIGNED PRIMARY KEY, address VARCHAR(50) NOT NULL,
  district VARCHAR(20) NOT NULL, city_id SMALLINT UNSIGNED NOT NULL, postal_code VARCHAR(10),
  phone VARCHAR(20) NOT NULL,
  last_update TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP, KEY (last_update),
  FOREIGN KEY (city_id) REFERENCES city (city_id));
CREATE TABLE store (store_id TINYINT UNSIGNED PRIMARY KEY, manager_staff_id TINYINT UNSIGNED NOT NULL,
  address_id SMALLINT UNSIGNED NOT NULL,
  last_update TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP, KEY (last_update),
  FOREIGN KEY (address_id) REFERENCES address (address_id));
CREATE TABLE staff (staff_id TINYINT UNSIGNED PRIMARY KEY, first_name VARCHAR(45) NOT NULL,
  last_name VARCHAR(45) NOT NULL, address_id SMALLINT UNSIGNED NOT NULL, picture BLOB,
  email VARCHAR(50), store_id TINYINT UNSIGNED NOT NULL, active BOOLEAN NOT NULL DEFAULT TRUE,
  username VARCHAR(16) NOT NULL, password VARCHAR(40) BINARY,
  last_update TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP, KEY (last_update),
  FOREIGN KEY (address_id) REFERENCES address (address_id), FOREIGN KEY (store_id) REFERENCES store (store_id));
ALTER TABLE store ADD FOREIGN KEY (manager_staff_id) REFERENCES staff (staff_id);
CREATE TABLE customer (customer_id SMALLINT UNSIGNED PRIMARY KEY, store_id TINYINT UNSIGNED NOT NULL,
  first_name VARCHAR(45) NOT NULL, last_name VARCHAR(45) NOT NULL, email VARCHAR(50),
  address_id SMALLINT UNSIGNED NOT NULL, active BOOLEAN NOT NULL DEFAULT TRUE, create_date DATETIME NOT NULL,
  last_update TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP, KEY (last_update),
  FOREIGN KEY (store_id) REFERENCES store (store_id), FOREIGN KEY (address_id) REFERENCES address (address_id));
CREATE TABLE inventory (inventory_id MEDIUMINT UNSIGNED PRIMARY KEY, film_id SMALLINT UNSIGNED NOT NULL,
  store_id TINYINT UNSIGNED NOT NULL,
  last_update TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP, KEY (last_update),
  FOREIGN KEY (film_id) REFERENCES film (film_id), FOREIGN KEY (store_id) REFERENCES store (store_id));
CREATE TABLE rental (rental_id INT PRIMARY KEY, rental_date DATETIME NOT NULL,
  inventory_id MEDIUMINT UNSIGNED NOT NULL, customer_id SMALLINT UNSIGNED NOT NULL, return_date DATETIME,
  staff_id TINYINT UNSIGNED NOT NULL,
  last_update TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP, KEY (last_update),
  FOREIGN KEY (inventory_id) REFERENCES inventory (inventory_id),
  FOREIGN KEY (customer_id) REFERENCES customer (customer_id), FOREIGN KEY (staff_id) REFERENCES staff (staff_id));
CREATE TABLE payment (payment_id SMALLINT UNSIGNED PRIMARY KEY, customer_id SMALLINT UNSIGNED NOT NULL,
  staff_id TINYINT UNSIGNED NOT NULL, rental_id INT, amount DECIMAL(5,2) NOT NULL, payment_date DATETIME NOT NULL,
  last_update TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP, KEY (last_update),
  FOREIGN KEY (customer_id) REFERENCES customer (customer_id), FOREIGN KEY (staff_id) REFERENCES staff (staff_id),
  FOREIGN KEY (rental_id) REFERENCES rental (rental_id));

SET foreign_key_checks = 0;
SET @t = TIMESTAMP '2020-06-01 12:00:00';
INSERT INTO language SELECT seq, ELT(seq, 'English', 'Italiano', 'Japanese', 'Mandarin', 'Français', 'Deutsch'),
  @t + INTERVAL seq SECOND FROM seq_1_to_6;
INSERT INTO category SELECT seq, CONCAT('Category ', seq), @t + INTERVAL seq SECOND FROM seq_1_to_16;
INSERT INTO actor SELECT seq, CONCAT('Zoë ', seq), CONCAT('Ångström-', seq % 37), @t + INTERVAL seq MINUTE
  FROM seq_1_to_200;
INSERT INTO film SELECT seq, CONCAT('FILM TITLE ', seq), IF(seq % 9 = 0, NULL, REPEAT('A drama. ', seq % 20)),
  2000 + seq % 20, seq % 6 + 1, (seq % 5) + 0.99, 46 + seq % 140, ELT(seq % 5 + 1, 'G', 'PG', 'PG-13', 'R', 'NC-17'),
  IF(seq % 3 = 0, 'Trailers,Deleted Scenes', 'Commentaries'), @t + INTERVAL seq HOUR FROM seq_1_to_100;
INSERT INTO film_actor SELECT (seq - 1) % 200 + 1, (seq - 1) DIV 5 + 1, @t + INTERVAL seq SECOND
  FROM seq_1_to_500;
INSERT INTO film_category SELECT seq, seq % 16 + 1, @t + INTERVAL seq SECOND FROM seq_1_to_100;
INSERT INTO country SELECT seq, CONCAT('Country ', seq), @t FROM seq_1_to_20;
INSERT INTO city SELECT seq, CONCAT('City ', seq), seq % 20 + 1, @t + INTERVAL seq SECOND FROM seq_1_to_60;
INSERT INTO address SELECT seq, CONCAT(seq, ' Main Street'), 'District', seq % 60 + 1,
  IF(seq % 7 = 0, NULL, LPAD(seq, 5, '0')), CONCAT('+1 555 ', seq), @t + INTERVAL seq SECOND FROM seq_1_to_100;
INSERT INTO store SELECT seq, seq, seq, @t FROM seq_1_to_2;
INSERT INTO staff SELECT seq, CONCAT('Staff', seq), 'Member', seq + 2, UNHEX(REPEAT('89504E470D0A1A0A00', seq * 10)),
  CONCAT('staff', seq, '@example.com'), seq, TRUE, CONCAT('staff', seq), SHA1(seq), @t FROM seq_1_to_2;
INSERT INTO customer SELECT seq, seq % 2 + 1, CONCAT('Customer', seq), 'Smith', CONCAT('c', seq, '@example.com'),
  seq % 100 + 1, seq % 11 <> 0, '2019-01-01' + INTERVAL seq DAY,
  IF(seq % 50 = 0, NULL, @t + INTERVAL seq MINUTE) FROM seq_1_to_300;
INSERT INTO inventory SELECT seq, seq % 100 + 1, seq % 2 + 1, @t + INTERVAL seq SECOND FROM seq_1_to_300;
INSERT INTO rental SELECT seq, '2020-01-01' + INTERVAL seq HOUR, seq % 300 + 1, seq % 300 + 1,
  IF(seq % 10 = 0, NULL, '2020-01-03' + INTERVAL seq HOUR), seq % 2 + 1, @t + INTERVAL seq SECOND
  FROM seq_1_to_500;
INSERT INTO payment SELECT seq, seq % 300 + 1, seq % 2 + 1, IF(seq % 25 = 0, NULL, seq), (seq % 12) + 0.99,
  '2020-01-01' + INTERVAL seq HOUR, @t + INTERVAL seq SECOND FROM seq_1_to_500;
";

/// Creates a database named after `prefix` on the shared source with the
/// [`SAKILA`] tables and rows, and an empty copy of its tables on the
/// shared destination; returns both names.
pub fn sakila_pair(prefix: &str) -> (String, String) {
    let (src, dst) = pair();
    let db = unique_name(prefix);
    src.exec(&format!(
        "CREATE DATABASE {0}; USE {0}; {SAKILA}",
        ident(&db)
    ));
    let copy = format!("{db}_copy");
    copy_schema(src, &db, dst, &copy);
    (db, copy)
}

/// A self-signed certificate for 127.0.0.1 from `scripts/generate-ssl-cert`,
/// deleted when dropped.
pub struct Certificate {
    dir: PathBuf,
}

impl Certificate {
    pub fn new() -> Certificate {
        let dir = scratch_dir().join(unique_name("certificate"));
        let out = Command::new(workspace_root().join("scripts/generate-ssl-cert"))
            .arg(&dir)
            .stdin(Stdio::null())
            .output()
            .expect("cannot run scripts/generate-ssl-cert");
        assert!(
            out.status.success(),
            "generate-ssl-cert: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Certificate { dir }
    }

    /// The certificate, which is also what a client trusts.
    pub fn crt(&self) -> String {
        self.path("ssl.crt")
    }

    /// A file of the certificate's directory (`ssl.key`, or one that is
    /// not there).
    pub fn path(&self, name: &str) -> String {
        let path = self.dir.join(name);
        path.to_str().expect("UTF-8 scratch path").to_string()
    }

    /// Starts dbd_server for `source`, serving HTTPS with this certificate.
    pub fn server(&self, source: &Sandbox, extra: &[&str]) -> Server {
        let (crt, key) = (self.crt(), self.path("ssl.key"));
        let mut args = vec!["-s", "--ssl-public-key", &crt, "--ssl-private-key", &key];
        args.extend_from_slice(extra);
        Server::start(source, &args)
    }

    /// A rustls client session for 127.0.0.1 that trusts only this
    /// certificate.
    pub fn client(&self) -> rustls::ClientConnection {
        crate::certs::tls_client(&self.crt())
    }
}

impl Default for Certificate {
    fn default() -> Self {
        Certificate::new()
    }
}

impl Drop for Certificate {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
