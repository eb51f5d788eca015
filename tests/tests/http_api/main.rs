//! dbd_server's HTTP API against a real source database: the three
//! endpoints, the change stream's framing and parameters, every documented
//! error status with its JSON body, Basic auth, TLS, request-head limits and
//! hostile names. Each test makes its own database (`unique_name`) and its
//! own server, so tests run in parallel without seeing each other.
//!
//! One test binary (one pair of sandbox servers) in modules by concern:
//! `listing` (`GET /`, `GET /<db>/`), `streams` (the change stream and its
//! parameters), `errors` (the 400, 404 and 405 answers), `auth` (Basic auth),
//! `tls` (HTTPS), `limits` (the request head), `ranges` (a first copy's key
//! ranges) and `hostile_names`; the shared helpers are in `common`.

mod auth;
mod common;
mod errors;
mod hostile_names;
mod limits;
mod listing;
mod ranges;
mod streams;
mod tls;
