-- A small sample schema for `make demo`: foreign keys, a composite key,
-- and a spread of column types. Every table has an auto-updating TIMESTAMP.
CREATE TABLE customer (
  customer_id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(100) NOT NULL,
  email VARCHAR(200) CHARACTER SET latin1 NULL,
  balance DECIMAL(12,2) NOT NULL DEFAULT 0,
  birthday DATE NULL,
  avatar BLOB NULL,
  last_update TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  KEY idx_last_update (last_update)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE product (
  sku VARCHAR(20) NOT NULL PRIMARY KEY,
  title VARCHAR(200) NOT NULL,
  price DOUBLE NOT NULL,
  tags SET('new','sale','eco') NOT NULL DEFAULT '',
  last_update TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  KEY idx_last_update (last_update)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE orders (
  order_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  customer_id INT UNSIGNED NOT NULL,
  status ENUM('open','paid','shipped') NOT NULL DEFAULT 'open',
  placed_at DATETIME(6) NOT NULL,
  last_update TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
  KEY idx_last_update (last_update),
  CONSTRAINT fk_orders_customer FOREIGN KEY (customer_id) REFERENCES customer (customer_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE order_line (
  order_id BIGINT UNSIGNED NOT NULL,
  line SMALLINT NOT NULL,
  sku VARCHAR(20) NOT NULL,
  quantity INT NOT NULL,
  last_update TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  PRIMARY KEY (order_id, line),
  KEY idx_last_update (last_update),
  CONSTRAINT fk_line_order FOREIGN KEY (order_id) REFERENCES orders (order_id),
  CONSTRAINT fk_line_product FOREIGN KEY (sku) REFERENCES product (sku)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Not syncable (no auto-updating TIMESTAMP): listed by nobody.
CREATE TABLE audit_note (id INT PRIMARY KEY, note TEXT) ENGINE=InnoDB;
