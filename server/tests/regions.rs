//! The deployment's region data: `[regions]` / `--divisions` / `--grids`; without a grid file
//! no grids, except the demo's (`serve --demo`).

use std::process::Command;

use gridcase_domain::Level;
use gridcase_server::config::Config;
use gridcase_server::serve::{load_regions, ServeError};

/// The error and its causes, as `main` prints them.
use gridcase_domain::error_messages as chain;

#[test]
fn a_grid_file_names_the_grids_and_without_one_only_the_demo_has_grids() {
    let dir = tempfile::tempdir().unwrap();
    let grids = dir.path().join("grids.csv");
    std::fs::write(&grids, "330802005001001\n330802005001002\n").unwrap();
    let mut cfg = Config::default();
    cfg.regions.grids = Some(grids.clone());
    let tree = load_regions(&cfg).unwrap();
    assert_eq!(tree.count(Level::Grid), 2);
    assert_eq!(tree.count(Level::Village), 25_547);

    // Without one: no grids, as `gridcase-replay` loads from the same options.
    cfg.regions.grids = None;
    let tree = load_regions(&cfg).unwrap();
    assert_eq!(tree.count(Level::Grid), 0);
    // The demo's generated grids stand in only for the demo.
    cfg.demo_grids = true;
    let tree = load_regions(&cfg).unwrap();
    assert_eq!(
        tree.count(Level::Grid),
        gridcase_fixtures::Grids::new(gridcase_fixtures::Area::Zhejiang, 1).len()
    );

    // A deployment's own division table keeps the demo grids of the villages it knows.
    let divisions = dir.path().join("divisions.csv");
    std::fs::write(
        &divisions,
        "code,name,level,parent\n330800,衢州市,city,33\n330802,柯城区,county,330800\n\
         330802005,新新街道,township,330802\n330802005001,金桂社区,village,330802005\n",
    )
    .unwrap();
    cfg.regions.divisions = Some(divisions);
    let tree = load_regions(&cfg).unwrap();
    assert_eq!(tree.count(Level::Village), 1);
    assert!(tree.count(Level::Grid) >= 1);
    assert!(tree
        .iter()
        .all(|r| r.level != Level::Grid || r.parent == Some("330802005001".parse().unwrap())));
}

#[test]
fn a_bad_grid_file_names_the_file_and_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let grids = dir.path().join("grids.csv");
    std::fs::write(&grids, "330802005001001\n330802005001\n").unwrap();
    let mut cfg = Config::default();
    cfg.regions.grids = Some(grids.clone());
    let e = load_regions(&cfg).unwrap_err();
    assert!(matches!(e, ServeError::Regions(_)), "{e:?}");
    assert_eq!(
        chain(&e),
        [
            "loading the region data".to_owned(),
            format!("the grid file {}", grids.display()),
            "line 2".to_owned(),
            "region 330802005001 is a village code, not a 15-digit grid code".to_owned(),
        ]
    );
}

#[test]
fn serve_takes_the_region_files_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gridcase"))
        .args(["serve", "--data"])
        .arg(dir.path())
        .args([
            "--listen",
            "127.0.0.1:0",
            "--grids",
            "/nonexistent/grids.csv",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("error: loading the region data"), "{err}");
    assert!(
        err.contains("caused by: opening /nonexistent/grids.csv"),
        "{err}"
    );
    assert!(
        !dir.path().join("log").exists(),
        "nothing opened before the regions"
    );
}
