//! Applying rows to the destination: its session, resume points and
//! batched upserts (`destination`), reading a change stream into batches
//! (`stream`), moving one stream into a table on two threads (`transfer`),
//! first copies of several key ranges at once (`copy`) and the table
//! comment that marks one in progress (`marker`), why a table failed
//! (`failure`), and counting a stream's rows without applying them for
//! `--dry-run` (`tally`). Uses `config`, `source`, `observe`
//! (progress) and `sql`; the pass, convergence and schema build on it.

pub mod copy;
pub mod destination;
pub mod failure;
pub mod marker;
pub mod stream;
pub mod tally;
pub mod transfer;
