//! # gridcase-regions
//!
//! The region data of a deployment: which divisions and grids exist, read from the files its
//! configuration names. Production data, not a fixture — `gridcase serve` and
//! `gridcase-replay` load it the same way (`--config FILE` with a `[regions]` table, or
//! `--divisions FILE` / `--grids FILE`). Depends on `gridcase-domain` only, whose
//! [`RegionTree`](gridcase_domain::RegionTree) it fills; the domain itself reads no files.
//!
//! - [`mod@divisions`]: the division table (`code,name,level,parent` CSV, read with the `csv`
//!   crate) — [`read_divisions`] for any table, [`bundled_divisions`] for the official 2023
//!   NBS divisions of Zhejiang this crate carries (`data/divisions-zhejiang.csv`, [`EDITION`]).
//! - [`grids`]: the grid file, one 15-digit grid code per line ([`read_grids`]).
//! - [`load()`]: both, from paths — `load(divisions, grids)`, or [`RegionsConfig::load`] for
//!   the configuration's `[regions]` table — with a [`RegionsError`] naming the file and,
//!   through its cause, the line.
//!
//! Test data and the demo's synthesized grids live in `gridcase-fixtures`, not here.
//!
//! ```
//! let tree = gridcase_regions::load(None, None)?;
//! assert_eq!(tree.name("330800".parse()?), Some("衢州市"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod divisions;
pub mod grids;
mod load;

pub use divisions::{
    bundled_divisions, read_divisions, DivisionsError, BUNDLED_CSV, CSV_HEADER, EDITION,
};
pub use grids::{read_grids, GridsError};
pub use load::{load, RegionsConfig, RegionsError};
