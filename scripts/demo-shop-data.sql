INSERT INTO customer (name, email, balance, birthday, avatar) VALUES
  ('Zoë Ångström', 'zoe@example.com', 120.50, '1990-02-28', 0x89504E470D0A1A0A00),
  ('李小龍', NULL, 0, NULL, NULL),
  ('O''Brien "Bob"', 'bob@example.com', -3.25, '1970-01-01', 0x00FF00FF);
INSERT INTO product (sku, title, price, tags) VALUES
  ('TEA-1', 'Green tea 🍵', 4.2, 'new,eco'),
  ('MUG-2', 'Mug', 9.99, 'sale');
INSERT INTO orders (customer_id, status, placed_at) VALUES
  (1, 'paid', '2026-11-01 01:30:00.250000'),
  (3, 'open', '2026-11-24 12:00:00');
INSERT INTO order_line (order_id, line, sku, quantity) VALUES
  (1, 1, 'TEA-1', 2), (1, 2, 'MUG-2', 1), (2, 1, 'TEA-1', 10);
INSERT INTO audit_note VALUES (1, 'not synced');
