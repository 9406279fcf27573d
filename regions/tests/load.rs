//! The bundled division table and loading a deployment's files.

use std::io::Write;

use gridcase_domain::{Level, RegionCode, RegionError, RegionTree};
use gridcase_regions::{bundled_divisions, load, RegionsConfig, RegionsError};

fn code(s: &str) -> RegionCode {
    s.parse().unwrap()
}

fn zhejiang() -> &'static RegionTree {
    bundled_divisions()
}

/// The error and its causes, as `main` prints them.
use gridcase_domain::error_messages as chain;

fn file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

#[test]
fn zhejiang_counts() {
    let tree = zhejiang();
    assert_eq!(tree.count(Level::City), 11);
    assert_eq!(tree.count(Level::County), 90);
    assert_eq!(tree.count(Level::Township), 1_387);
    assert_eq!(tree.count(Level::Village), 25_547);
    assert_eq!(tree.count(Level::Grid), 0);
    assert_eq!(tree.len(), 11 + 90 + 1_387 + 25_547);
    assert_eq!(tree.cities().len(), 11);
    assert_eq!(tree.iter().count(), tree.len());
    assert!(tree
        .iter()
        .zip(tree.iter().skip(1))
        .all(|(a, b)| a.code < b.code));

    let quzhou = code("330800");
    assert_eq!(tree.name(quzhou), Some("衢州市"));
    assert_eq!(tree.children(quzhou).len(), 6);
    let mut per_level = [0usize; 5];
    for info in tree.subtree(quzhou) {
        assert!(quzhou.contains(info.code));
        per_level[usize::from(info.level.rank()) - 1] += 1;
    }
    assert_eq!(per_level, [0, 1_664, 100, 6, 1]);
    // The subtree range scan agrees with a full filter.
    assert_eq!(
        tree.subtree(quzhou).count(),
        tree.iter().filter(|i| quzhou.contains(i.code)).count()
    );

    let kecheng = tree.require(code("330802")).unwrap();
    assert_eq!(kecheng.name, "柯城区");
    assert_eq!(kecheng.level, Level::County);
    assert_eq!(kecheng.parent, Some(quzhou));
    assert_eq!(tree.name(code("330802005")), Some("新新街道"));
    assert_eq!(tree.name(code("330802005001")), Some("金桂社区"));
    assert_eq!(
        tree.parse_known("330802005001").unwrap(),
        code("330802005001")
    );
    assert!(matches!(
        tree.parse_known("330802005999"),
        Err(RegionError::UnknownRegion { .. })
    ));
    assert!(matches!(
        tree.parse_known("33080200599"),
        Err(RegionError::InvalidCode { .. })
    ));

    // Structure: every node's children are sorted, known, and point back to it.
    let mut linked = 0;
    for info in tree.iter() {
        assert_eq!(info.level, info.code.level());
        assert_eq!(info.parent, info.code.parent());
        if let Some(p) = info.parent {
            assert!(tree.children(p).binary_search(&info.code).is_ok());
        }
        let kids = tree.children(info.code);
        assert!(kids.windows(2).all(|w| w[0] < w[1]));
        linked += kids.len();
    }
    assert_eq!(linked + tree.cities().len(), tree.len());
    assert!(tree.children(code("330802005001")).is_empty());
    assert!(tree.children(code("330899")).is_empty());
}

#[test]
fn load_defaults_to_the_bundled_divisions_without_grids() {
    let tree = load(None, None).unwrap();
    assert_eq!(tree.len(), zhejiang().len());
    assert_eq!(tree.count(Level::Grid), 0);
    assert_eq!(RegionsConfig::default().load().unwrap().len(), tree.len());
}

#[test]
fn load_reads_the_configured_files() {
    let divisions = file(
        "code,name,level,parent\n330800,衢州市,city,33\n330802,柯城区,county,330800\n\
         330802005,新新街道,township,330802\n330802005001,金桂社区,village,330802005\n",
    );
    let grids = file("330802005001001\n330802005001002\n");
    let config = RegionsConfig {
        divisions: Some(divisions.path().to_owned()),
        grids: Some(grids.path().to_owned()),
    };
    let tree = config.load().unwrap();
    assert_eq!(tree.len(), 6);
    assert_eq!(tree.count(Level::Grid), 2);
    // Grids on top of the bundled divisions.
    let tree = load(None, Some(grids.path())).unwrap();
    assert_eq!(tree.count(Level::Grid), 2);
    assert_eq!(tree.count(Level::Village), 25_547);
}

#[test]
fn errors_name_the_file_and_the_line() {
    let divisions = file("code,name,level,parent\n330800,衢州市,city,33\n330803,x,county,330800\n330803001,y,township,330803\n330803001,y,township,330803\n");
    let err = load(Some(divisions.path()), None).unwrap_err();
    assert!(matches!(err, RegionsError::Divisions { .. }), "{err:?}");
    assert_eq!(
        chain(&err),
        [
            format!("the division table {}", divisions.path().display()),
            "line 5: duplicate region code 330803001 (first on line 4)".to_owned(),
        ]
    );

    let grids = file("# one grid\n330802005001001\n330899001001001\n");
    let err = load(None, Some(grids.path())).unwrap_err();
    assert_eq!(
        chain(&err),
        [
            format!("the grid file {}", grids.path().display()),
            "line 3".to_owned(),
            "cannot add region 330899001001001: its parent 330899001001 is not known".to_owned(),
        ]
    );

    let missing = std::path::Path::new("/nonexistent/grids.csv");
    let err = load(None, Some(missing)).unwrap_err();
    assert!(matches!(err, RegionsError::Open { .. }), "{err:?}");
    assert_eq!(chain(&err)[0], "opening /nonexistent/grids.csv");
}
