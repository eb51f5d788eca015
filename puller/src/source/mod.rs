//! Talking to dbd_server: the HTTP(S) client (`client`) and the bodies it
//! reads (`body`), through a proxy when there is one (`proxy`, chosen by
//! `proxy_choice`), TLS failures told in words (`tlserror`), the paths of
//! the requests it answers (`requests`), retrying its 503s (`retry`), and
//! the source's clock as its answers tell it (`clock`). Uses only `config`
//! and the shared crate: the rest of the puller uses this, never the other
//! way.

pub mod body;
pub mod client;
pub mod clock;
pub mod proxy;
pub mod proxy_choice;
pub mod requests;
pub mod retry;
pub mod tlserror;
