//! The HTTP(S) edge: accepting connections and reading one GET each
//! (`http`), bounded in time (`deadline`: the request head's deadline) and
//! per client address (`admission`), answers and streams with gzip
//! (`response`), closing refused connections gently (`linger`) and warning
//! about refused clients at most once a minute (`notices`). Knows nothing
//! of databases: it uses only `error` (statuses) and the shared crate, and
//! hands each request to a `Handler` (the API).

pub mod admission;
pub mod deadline;
pub mod http;
pub mod linger;
pub mod notices;
pub mod response;
