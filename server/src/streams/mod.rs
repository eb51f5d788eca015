//! What requests read from the rows of a table: the change stream
//! (`stream`: rows changed since a point, below the horizon, as NDJSON;
//! which rows a request asks for is `params`'), the
//! changes question (`changes`: which tables' streams would hold a row) and
//! the digest stream (`digest`: key-range digests for convergence) and the
//! ranges a first copy streams at once (`ranges`). Uses
//! `inspect`, `horizon`, `source`, `edge` (responses) and `sql`; only the
//! routes (`api`) use it.

pub mod changes;
pub mod digest;
pub mod params;
pub mod ranges;
pub mod stream;
