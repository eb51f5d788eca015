//! Tables the tests share: every column type at its extremes (`TYPES`,
//! with rows in `ROWS`), and a Sakila-shaped schema (`SAKILA_LIKE`): the
//! sample's foreign key cycle, FULLTEXT and SPATIAL keys, ENUM/SET/YEAR,
//! defaults and a nullable auto-updating timestamp, written out here because
//! the tests must not read files outside the repository.

pub const TYPES: &str = "CREATE TABLE types (
    id INT NOT NULL PRIMARY KEY,
    ti TINYINT NULL, tiu TINYINT UNSIGNED NULL, si SMALLINT NULL, mi MEDIUMINT NULL,
    miu MEDIUMINT UNSIGNED NULL, i INT NULL, iu INT UNSIGNED NULL,
    bi BIGINT NULL, biu BIGINT UNSIGNED NULL,
    d DECIMAL(65,30) NULL, d0 DECIMAL(10,0) NULL,
    f FLOAT NULL, db DOUBLE NULL,
    dt DATE NULL, dtm DATETIME(6) NULL, dt0 DATETIME NULL, t TIME(6) NULL, t0 TIME NULL, y YEAR NULL,
    ts6 TIMESTAMP(6) NULL DEFAULT NULL, ts0 TIMESTAMP NULL DEFAULT NULL,
    c CHAR(10) NULL, vc VARCHAR(200) NULL, tx MEDIUMTEXT NULL,
    l1 VARCHAR(50) CHARACTER SET latin1 NULL, u16 VARCHAR(20) CHARACTER SET utf16 NULL,
    cyr VARCHAR(20) CHARACTER SET cp1251 NULL, sj VARCHAR(20) CHARACTER SET sjis NULL,
    bn BINARY(4) NULL, vb VARBINARY(300) NULL, bl BLOB NULL, lb LONGBLOB NULL,
    b1 BIT(1) NULL, b64 BIT(64) NULL,
    e ENUM('a','b','ç') NULL, st SET('x','y','z') NULL, j JSON NULL,
    g GEOMETRY NULL, p POINT NULL,
    upd TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    KEY (upd)
  ) DEFAULT CHARSET=utf8mb4";

/// Row 1: the largest values; row 2: the smallest; row 3: NULL everywhere;
/// row 4: awkward ones (NUL bytes, zero dates, the repeated DST hour).
pub const ROWS: &str = "SET time_zone = '+00:00';
  INSERT INTO types VALUES (1,
    127, 255, 32767, 8388607, 16777215, 2147483647, 4294967295,
    9223372036854775807, 18446744073709551615,
    99999999999999999999999999999999999.999999999999999999999999999999, 9999999999,
    3.40282e38, 1.7976931348623157e308,
    '9999-12-31', '9999-12-31 23:59:59.999999', '9999-12-31 23:59:59', '838:59:59.000000', '838:59:59', 2155,
    '2038-01-19 03:14:07.999999', '2038-01-19 03:14:07',
    'abcdefghij', CONCAT('4-byte: ', 0xF09F9880, ' ', 0xF09D849E, ' quote\" back\\\\ tab\t nl\n'),
    REPEAT('long text ü ', 20000),
    'café ÿ ½ Æ', 'wide 😀 ü', 'Привет', '日本語',
    0xFFFFFFFF, 0x000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F202122232425262728292A2B2C2D2E2F303132333435363738393A3B3C3D3E3F404142434445464748494A4B4C4D4E4F505152535455565758595A5B5C5D5E5F606162636465666768696A6B6C6D6E6F707172737475767778797A7B7C7D7E7F808182838485868788898A8B8C8D8E8F909192939495969798999A9B9C9D9E9FA0A1A2A3A4A5A6A7A8A9AAABACADAEAFB0B1B2B3B4B5B6B7B8B9BABBBCBDBEBFC0C1C2C3C4C5C6C7C8C9CACBCCCDCECFD0D1D2D3D4D5D6D7D8D9DADBDCDDDEDFE0E1E2E3E4E5E6E7E8E9EAEBECEDEEEFF0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF,
    NULL, NULL,
    b'1', 0xFFFFFFFFFFFFFFFF,
    'ç', 'x,y,z', '{\"a\": [1, 2.5, \"ü\"], \"b\": null, \"c\": {\"d\": true}}',
    ST_GeomFromText('POLYGON((0 0,10 0,10 10,0 10,0 0),(2 2,3 2,3 3,2 2))'), POINT(1.5, -2.25),
    '2026-11-01 05:30:00.000001');
  INSERT INTO types VALUES (2,
    -128, 0, -32768, -8388608, 0, -2147483648, 0,
    -9223372036854775808, 0,
    -99999999999999999999999999999999999.999999999999999999999999999999, -9999999999,
    -1.17549e-38, 2.2250738585072014e-308,
    '1000-01-01', '1000-01-01 00:00:00.000000', '1000-01-01 00:00:00', '-838:59:59.000000', '-838:59:59', 1901,
    '1970-01-01 00:00:01.000000', '1970-01-01 00:00:01',
    '', '', '', '', '', '', '',
    0x00000000, X'', X'', X'',
    b'0', 0x0000000000000000,
    'a', '', '[]',
    ST_GeomFromText('GEOMETRYCOLLECTION EMPTY'), POINT(0, 0),
    '2026-11-01 06:30:00.000001');
  INSERT INTO types (id, upd) VALUES (3, '2026-11-01 05:59:59.999999');
  INSERT INTO types VALUES (4,
    0, 0, 0, 0, 0, 0, 0, 0, 0,
    0.000000000000000000000000000001, 0,
    0.1, 0.30000000000000004,
    '0000-00-00', '0000-00-00 00:00:00.000000', '2026-11-01 01:30:00', '-00:00:00.000001', '00:00:00', 0,
    '2026-11-01 05:30:00.000000', '2026-11-01 06:30:00',
    'trail  ', CONCAT('nul', 0x00, 'byte'), CONCAT(0x00, 0x01, 0x1F, 0x7F), 'ÿ', '𝄞', 'ёЁ', 'ｱ',
    0x00010000, 0x00, REPEAT(0x00FF, 30000), REPEAT(0xDEADBEEF, 300000),
    NULL, 0x0000000000000001,
    'b', 'y', '\"just a string\"',
    ST_GeomFromText('MULTIPOINT(1 1, 2 2)'), POINT(-180, 90),
    '2026-11-01 06:00:00.500000');
  INSERT INTO types (id, f, db, upd) SELECT 100 + seq, seq / 7, seq / 7, '2026-11-01 06:15:00'
    FROM seq_1_to_200;";

/// A schema shaped like MySQL's Sakila sample (run with foreign key checks
/// off: `store` and `staff` reference each other), every table syncable, and
/// `SAKILA_LIKE_ROWS` to fill it.
pub const SAKILA_LIKE: &str = "SET foreign_key_checks = 0;
  CREATE TABLE country (
    country_id SMALLINT UNSIGNED NOT NULL AUTO_INCREMENT,
    country VARCHAR(50) NOT NULL,
    last_update TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    PRIMARY KEY (country_id)
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='nations';
  CREATE TABLE city (
    city_id SMALLINT UNSIGNED NOT NULL AUTO_INCREMENT,
    city VARCHAR(50) NOT NULL,
    country_id SMALLINT UNSIGNED NOT NULL,
    last_update TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    PRIMARY KEY (city_id),
    KEY idx_fk_country_id (country_id),
    CONSTRAINT fk_city_country FOREIGN KEY (country_id) REFERENCES country (country_id) ON DELETE RESTRICT ON UPDATE CASCADE
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
  CREATE TABLE address (
    address_id SMALLINT UNSIGNED NOT NULL AUTO_INCREMENT,
    address VARCHAR(50) NOT NULL,
    district VARCHAR(20) NOT NULL,
    city_id SMALLINT UNSIGNED NOT NULL,
    postal_code VARCHAR(10) DEFAULT NULL COMMENT 'may be missing',
    phone VARCHAR(20) NOT NULL,
    location GEOMETRY NOT NULL,
    last_update TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    PRIMARY KEY (address_id),
    KEY idx_fk_city_id (city_id),
    SPATIAL KEY idx_location (location),
    CONSTRAINT fk_address_city FOREIGN KEY (city_id) REFERENCES city (city_id) ON DELETE RESTRICT ON UPDATE CASCADE
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
  CREATE TABLE language (
    language_id TINYINT UNSIGNED NOT NULL AUTO_INCREMENT,
    name CHAR(20) NOT NULL,
    last_update TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    PRIMARY KEY (language_id)
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3;
  CREATE TABLE film (
    film_id SMALLINT UNSIGNED NOT NULL AUTO_INCREMENT,
    title VARCHAR(128) NOT NULL,
    description TEXT DEFAULT NULL,
    release_year YEAR DEFAULT NULL,
    language_id TINYINT UNSIGNED NOT NULL,
    rental_duration TINYINT UNSIGNED NOT NULL DEFAULT 3,
    rental_rate DECIMAL(4,2) NOT NULL DEFAULT 4.99,
    replacement_cost DECIMAL(5,2) NOT NULL DEFAULT 19.99,
    rating ENUM('G','PG','PG-13','R','NC-17') DEFAULT 'G',
    special_features SET('Trailers','Commentaries','Deleted Scenes','Behind the Scenes') DEFAULT NULL,
    last_update TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    PRIMARY KEY (film_id),
    KEY idx_title (title(20)),
    KEY idx_fk_language_id (language_id),
    FULLTEXT KEY idx_text (title, description),
    CONSTRAINT fk_film_language FOREIGN KEY (language_id) REFERENCES language (language_id) ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT chk_rate CHECK (rental_rate >= 0)
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
  CREATE TABLE actor (
    actor_id SMALLINT UNSIGNED NOT NULL AUTO_INCREMENT,
    first_name VARCHAR(45) NOT NULL,
    last_name VARCHAR(45) NOT NULL,
    last_update TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    PRIMARY KEY (actor_id),
    KEY idx_actor_last_name (last_name DESC, first_name)
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
  CREATE TABLE film_actor (
    actor_id SMALLINT UNSIGNED NOT NULL,
    film_id SMALLINT UNSIGNED NOT NULL,
    last_update TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    PRIMARY KEY (actor_id, film_id),
    KEY idx_fk_film_id (film_id),
    CONSTRAINT fk_film_actor_actor FOREIGN KEY (actor_id) REFERENCES actor (actor_id) ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT fk_film_actor_film FOREIGN KEY (film_id) REFERENCES film (film_id) ON DELETE RESTRICT ON UPDATE CASCADE
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
  CREATE TABLE store (
    store_id TINYINT UNSIGNED NOT NULL AUTO_INCREMENT,
    manager_staff_id TINYINT UNSIGNED NOT NULL,
    address_id SMALLINT UNSIGNED NOT NULL,
    last_update TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    PRIMARY KEY (store_id),
    UNIQUE KEY idx_unique_manager (manager_staff_id),
    KEY idx_fk_address_id (address_id),
    CONSTRAINT fk_store_address FOREIGN KEY (address_id) REFERENCES address (address_id) ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT fk_store_staff FOREIGN KEY (manager_staff_id) REFERENCES staff (staff_id) ON DELETE RESTRICT ON UPDATE CASCADE
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
  CREATE TABLE staff (
    staff_id TINYINT UNSIGNED NOT NULL AUTO_INCREMENT,
    first_name VARCHAR(45) NOT NULL,
    last_name VARCHAR(45) NOT NULL,
    address_id SMALLINT UNSIGNED NOT NULL,
    picture BLOB DEFAULT NULL,
    email VARCHAR(50) DEFAULT NULL,
    store_id TINYINT UNSIGNED NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    username VARCHAR(16) NOT NULL,
    password VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT NULL,
    last_update TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    PRIMARY KEY (staff_id),
    KEY idx_fk_store_id (store_id),
    KEY idx_fk_address_id (address_id),
    CONSTRAINT fk_staff_address FOREIGN KEY (address_id) REFERENCES address (address_id) ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT fk_staff_store FOREIGN KEY (store_id) REFERENCES store (store_id) ON DELETE RESTRICT ON UPDATE CASCADE
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
  CREATE TABLE customer (
    customer_id SMALLINT UNSIGNED NOT NULL AUTO_INCREMENT,
    store_id TINYINT UNSIGNED NOT NULL,
    first_name VARCHAR(45) NOT NULL,
    email VARCHAR(50) DEFAULT NULL,
    address_id SMALLINT UNSIGNED NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    create_date DATETIME NOT NULL,
    last_update TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    PRIMARY KEY (customer_id),
    UNIQUE KEY idx_email (email),
    KEY idx_fk_store_id (store_id),
    CONSTRAINT fk_customer_address FOREIGN KEY (address_id) REFERENCES address (address_id) ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT fk_customer_store FOREIGN KEY (store_id) REFERENCES store (store_id) ON DELETE RESTRICT ON UPDATE CASCADE
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
  CREATE TABLE payment (
    payment_id SMALLINT UNSIGNED NOT NULL AUTO_INCREMENT,
    customer_id SMALLINT UNSIGNED NOT NULL,
    staff_id TINYINT UNSIGNED NOT NULL,
    amount DECIMAL(5,2) NOT NULL,
    payment_date DATETIME(3) NOT NULL,
    last_update TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    PRIMARY KEY (payment_id),
    KEY idx_fk_staff_id (staff_id),
    KEY idx_fk_customer_id (customer_id),
    KEY idx_date (payment_date DESC),
    CONSTRAINT fk_payment_customer FOREIGN KEY (customer_id) REFERENCES customer (customer_id) ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT fk_payment_staff FOREIGN KEY (staff_id) REFERENCES staff (staff_id) ON DELETE RESTRICT ON UPDATE CASCADE
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
  SET foreign_key_checks = 1";

/// Rows for [`SAKILA_LIKE`], with old timestamps (below any horizon).
pub const SAKILA_LIKE_ROWS: &str = "SET foreign_key_checks = 0; SET time_zone = '+00:00';
  INSERT INTO country (country, last_update) SELECT CONCAT('country ', seq), '2024-01-01' FROM seq_1_to_20;
  INSERT INTO city (city, country_id, last_update) SELECT CONCAT('city ', seq), 1 + seq % 20, '2024-01-01' FROM seq_1_to_60;
  INSERT INTO address (address, district, city_id, postal_code, phone, location, last_update)
    SELECT CONCAT(seq, ' Main St'), 'D', 1 + seq % 60, IF(seq % 3, NULL, '0500'), '555', POINT(seq, -seq), '2024-01-01'
    FROM seq_1_to_100;
  INSERT INTO language (name, last_update) VALUES ('English', '2024-01-01'), ('Français', '2024-01-01');
  INSERT INTO film (title, description, release_year, language_id, rating, special_features, last_update)
    SELECT CONCAT('FILM ', seq), IF(seq % 4, CONCAT('about ', seq), NULL), 2000 + seq % 20, 1 + seq % 2,
      ELT(1 + seq % 5, 'G','PG','PG-13','R','NC-17'), IF(seq % 2, 'Trailers,Deleted Scenes', NULL), '2024-01-01'
    FROM seq_1_to_200;
  INSERT INTO actor (first_name, last_name, last_update) SELECT CONCAT('A', seq), CONCAT('L', seq % 17), '2024-01-01' FROM seq_1_to_50;
  INSERT INTO film_actor (actor_id, film_id, last_update) SELECT 1 + seq % 50, 1 + seq % 200, '2024-01-01' FROM seq_1_to_400
    ON DUPLICATE KEY UPDATE last_update = '2024-01-01';
  INSERT INTO staff (first_name, last_name, address_id, picture, store_id, username, password, last_update) VALUES
    ('Mike', 'H', 3, x'89504e470d0a1a0a', 1, 'mike', 'secret', '2024-01-01'), ('Jon', 'S', 4, NULL, 2, 'jon', NULL, '2024-01-01');
  INSERT INTO store (manager_staff_id, address_id, last_update) VALUES (1, 1, '2024-01-01'), (2, 2, '2024-01-01');
  INSERT INTO customer (store_id, first_name, email, address_id, create_date, last_update)
    SELECT 1 + seq % 2, CONCAT('C', seq), IF(seq % 5, CONCAT('c', seq, '@example.org'), NULL), 1 + seq % 100,
      '2020-02-02 10:00:00', IF(seq % 7, '2024-01-01', NULL)
    FROM seq_1_to_150;
  INSERT INTO payment (customer_id, staff_id, amount, payment_date, last_update)
    SELECT 1 + seq % 150, 1 + seq % 2, seq % 10 + 0.99, '2021-01-01' + INTERVAL seq HOUR, IF(seq % 11, '2024-01-01', NULL)
    FROM seq_1_to_600;
  SET foreign_key_checks = 1";
