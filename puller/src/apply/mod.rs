//! Applying rows to the destination: its session, resume points and
//! batched upserts (`destination`), reading a change stream into batches
//! (`stream`), moving one stream into a table on two threads (`transfer`),
//! and why a table failed (`failure`). Uses `config`, `source`, `observe`
//! (progress) and `sql`; the pass, convergence and schema build on it.

pub mod destination;
pub mod failure;
pub mod stream;
pub mod transfer;
