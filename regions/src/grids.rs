//! The grid file: the grids (网格) of a deployment, one 15-digit grid code per line.
//!
//! Grids are not published nationally, so each deployment brings its own list. Blank lines and
//! lines starting with `#` are skipped; anything after a comma is ignored (a spreadsheet export
//! with more columns works). Each grid is named `第N网格` after its three-digit number.

use std::io::BufRead;

use gridcase_domain::{RegionCode, RegionError, RegionTree};

/// What is wrong with a grid file. Lines are 1-based.
///
/// Fix the line named and start again: the caller discards a tree that failed to load.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GridsError {
    /// The file could not be read (or is not UTF-8).
    #[error("reading line {line}")]
    Read {
        /// The line being read.
        line: u64,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A code the domain refuses: not a valid 15-digit grid code, a grid of a village the
    /// divisions do not know, a grid listed twice.
    #[error("line {line}")]
    Region {
        /// The line.
        line: u64,
        /// What the domain said.
        #[source]
        source: RegionError,
    },
}

/// Adds the grids of a grid file to `tree` (whose villages must be known) and returns how
/// many were added.
///
/// # Errors
/// [`GridsError`], naming the line; `tree` then holds the grids before that line.
pub fn read_grids(tree: &mut RegionTree, reader: impl BufRead) -> Result<usize, GridsError> {
    let mut added = 0;
    for (i, text) in reader.lines().enumerate() {
        let line = i as u64 + 1;
        let text = text.map_err(|source| GridsError::Read { line, source })?;
        let text = text.trim().trim_start_matches('\u{feff}');
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let field = text.split(',').next().unwrap_or(text).trim();
        RegionCode::parse(field)
            .and_then(|code| tree.add_grid(code, None).map(|_| ()))
            .map_err(|source| GridsError::Region { line, source })?;
        added += 1;
    }
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn village() -> RegionTree {
        let mut tree = RegionTree::new();
        for c in ["330800", "330802", "330802005", "330802005001"] {
            tree.insert(c.parse().unwrap(), c).unwrap();
        }
        tree
    }

    #[test]
    fn reads_codes_comments_and_extra_columns() {
        let mut tree = village();
        let text = "# grids of 金桂社区\n330802005001001\n\n330802005001002,二网格,x\r\n";
        assert_eq!(read_grids(&mut tree, text.as_bytes()).unwrap(), 2);
        assert_eq!(
            tree.name("330802005001002".parse().unwrap()),
            Some("第2网格")
        );
    }

    #[test]
    fn errors_name_the_line() {
        for (text, line, cause) in [
            (
                "330802005001001\n33080200500100x\n",
                2,
                "invalid region code",
            ),
            ("330802005001\n", 1, "not a 15-digit grid code"),
            (
                "330802005002001\n",
                1,
                "its parent 330802005002 is not known",
            ),
            (
                "330802005001001\n\n330802005001001\n",
                3,
                "duplicate region code",
            ),
        ] {
            let err = read_grids(&mut village(), text.as_bytes()).unwrap_err();
            assert_eq!(err.to_string(), format!("line {line}"));
            let source = std::error::Error::source(&err).unwrap().to_string();
            assert!(source.contains(cause), "{source}");
        }
        let err = read_grids(&mut village(), &b"330802005001001\n\xff\n"[..]).unwrap_err();
        assert!(matches!(err, GridsError::Read { line: 2, .. }), "{err:?}");
    }
}
