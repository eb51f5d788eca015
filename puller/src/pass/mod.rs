//! One pass over the tables and its plan: which tables and by which column
//! (`tables`), which of them converge this time (`schedule`), which have
//! anything new (`changes`), first copies by key ranges (`first_copy`), the
//! pass itself (`sync`) and one table's sync by its method (`table`); and
//! the `--dry-run` pass (`dry_run`), which tells what each table's pass
//! would do (`preview`) and changes nothing. The top of the puller: it uses
//! every other folder, and only `main` uses it.

pub mod changes;
pub mod dry_run;
pub mod first_copy;
pub mod preview;
pub mod schedule;
pub mod sync;
pub mod table;
pub mod tables;
