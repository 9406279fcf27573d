//! A deployment's region data from the files its configuration names.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use gridcase_domain::RegionTree;
use serde::{Deserialize, Serialize};

use crate::divisions::{bundled_divisions, read_divisions, DivisionsError};
use crate::grids::{read_grids, GridsError};

/// Where a deployment's region data comes from: the `[regions]` table of the server's TOML
/// configuration, which the replay tool reads too.
///
/// ```toml
/// [regions]
/// divisions = "divisions.csv" # default: the bundled Zhejiang divisions
/// grids = "grids.csv"         # one 15-digit grid code per line
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegionsConfig {
    /// A division table (`code,name,level,parent`); default the bundled Zhejiang divisions.
    pub divisions: Option<PathBuf>,
    /// A grid file, one grid code per line; default no grids (the server then uses the demo's
    /// generated grids, and says so).
    pub grids: Option<PathBuf>,
}

impl RegionsConfig {
    /// Loads what this names: see [`load`].
    pub fn load(&self) -> Result<RegionTree, RegionsError> {
        load(self.divisions.as_deref(), self.grids.as_deref())
    }
}

/// Why a deployment's region data could not be loaded. Each names the file; the cause names
/// the line. Fix the file (or the path in the configuration) and start again.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegionsError {
    /// A configured file could not be opened.
    #[error("opening {}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The division table is not valid.
    #[error("the division table {}", path.display())]
    Divisions {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        #[source]
        source: DivisionsError,
    },
    /// The grid file is not valid.
    #[error("the grid file {}", path.display())]
    Grids {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        #[source]
        source: GridsError,
    },
}

/// The region tree of a deployment: the division table at `divisions` (default: the bundled
/// Zhejiang divisions, [`bundled_divisions`]) plus the grids of the grid file at `grids`
/// (default: none).
///
/// # Errors
/// [`RegionsError`], naming the file and, through its cause, the line.
pub fn load(divisions: Option<&Path>, grids: Option<&Path>) -> Result<RegionTree, RegionsError> {
    let open = |path: &Path| {
        File::open(path)
            .map(BufReader::new)
            .map_err(|source| RegionsError::Open {
                path: path.to_owned(),
                source,
            })
    };
    let mut tree = match divisions {
        Some(path) => read_divisions(open(path)?).map_err(|source| RegionsError::Divisions {
            path: path.to_owned(),
            source,
        })?,
        None => bundled_divisions().clone(),
    };
    if let Some(path) = grids {
        read_grids(&mut tree, open(path)?).map_err(|source| RegionsError::Grids {
            path: path.to_owned(),
            source,
        })?;
    }
    Ok(tree)
}
