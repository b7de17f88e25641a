//! The embedded rules come from the pinned `ua-parser` package, whoever builds this crate.

/// The version `build.rs` looks for, read from its source.
fn build_script_version() -> String {
    let script = include_str!("../build.rs");
    let line = script.lines().find(|l| l.starts_with("const PINNED_VERSION")).expect("PINNED_VERSION in build.rs");
    line.split('"').nth(1).expect("a quoted version").to_owned()
}

#[test]
fn the_build_script_looks_for_the_version_the_workspace_pins() {
    let manifest = include_str!("../../../Cargo.toml");
    let pin = manifest.lines().find(|l| l.starts_with("ua-parser =")).expect("ua-parser in [workspace.dependencies]");
    assert!(pin.contains(&format!("\"={}\"", build_script_version())), "{pin} vs build.rs {}", build_script_version());
}

#[test]
fn the_embedded_rules_are_that_version_s_file() {
    let expected = format!("ua-parser-{}/uap-core/regexes.yaml", build_script_version());
    assert!(portcullis_device_uap::RULES_SOURCE.ends_with(&expected), "{}", portcullis_device_uap::RULES_SOURCE);
}
