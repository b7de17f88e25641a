//! Embeds uap-core's `regexes.yaml` from the pinned `ua-parser` crate package, converted to JSON.
//!
//! The rules are not copied into the repository: the `ua-parser` package published on crates.io ships
//! `uap-core/regexes.yaml`, a published package never changes, and `Cargo.lock` pins its version, so reading
//! the file from cargo's registry checkout is reproducible and needs no network. JSON rather than YAML at run
//! time because `serde_json` is already a dependency and the maintained YAML crates are then build-only.

use std::env;
use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Map, Value};
use yaml_rust2::{Yaml, YamlLoader};

type BoxError = Box<dyn Error>;

/// The package whose source tree holds the rules.
const PACKAGE: &str = "ua-parser";
/// Where the rules sit inside that package.
const RULES: &str = "uap-core/regexes.yaml";

fn main() -> Result<(), BoxError> {
    println!("cargo::rerun-if-changed=build.rs");
    let rules = locate_rules()?;
    println!("cargo::rerun-if-changed={}", rules.display());
    let yaml = fs::read_to_string(&rules).map_err(|e| format!("reading {}: {e}", rules.display()))?;
    let json = yaml_to_json(&yaml).map_err(|e| format!("converting {}: {e}", rules.display()))?;
    let out = PathBuf::from(env::var("OUT_DIR")?).join("regexes.json");
    fs::write(&out, serde_json::to_string(&json)?)?;
    // Recorded so the README's claim "which file was embedded" can be checked in a built crate.
    println!("cargo::rustc-env=PORTCULLIS_UAP_RULES_PATH={}", rules.display());
    Ok(())
}

/// Finds `uap-core/regexes.yaml` in the `ua-parser` package this workspace resolves to.
///
/// First through `cargo metadata --offline`, as that is cargo's own answer. It can fail offline on a fresh
/// checkout, because `cargo metadata` wants every package of the workspace (all platforms) unpacked while a
/// `cargo build -p` only unpacks what it builds, so the fallback reads the pinned version from `Cargo.lock`
/// and looks for the unpacked package in cargo's registry sources, which this build has just unpacked.
fn locate_rules() -> Result<PathBuf, BoxError> {
    let metadata_err = match via_cargo_metadata() {
        Ok(p) => return Ok(p),
        Err(e) => e,
    };
    println!(
        "cargo::warning=cargo metadata could not locate {PACKAGE} ({metadata_err}); falling back to Cargo.lock + registry"
    );
    via_lockfile().map_err(|e| {
        format!("cannot find {RULES} of the {PACKAGE} package: cargo metadata: {metadata_err}; registry: {e}").into()
    })
}

fn via_cargo_metadata() -> Result<PathBuf, BoxError> {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("Cargo.toml");
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--offline", "--locked", "--manifest-path"])
        .arg(&manifest)
        .output()?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned().into());
    }
    let meta: Value = serde_json::from_slice(&out.stdout)?;
    let packages = meta["packages"].as_array().ok_or("no packages in cargo metadata")?;
    let mut found = packages
        .iter()
        .filter(|p| p["name"] == PACKAGE && p["source"].as_str().is_some_and(|s| s.starts_with("registry+")));
    let pkg = found.next().ok_or("package not in the resolve")?;
    if found.next().is_some() {
        // Two versions would make "the" rules ambiguous; the workspace pins exactly one.
        return Err("more than one version of the package in the resolve".into());
    }
    let manifest_path = pkg["manifest_path"].as_str().ok_or("package without manifest_path")?;
    let dir = Path::new(manifest_path).parent().ok_or("manifest_path without a parent")?;
    existing(dir.join(RULES))
}

fn via_lockfile() -> Result<PathBuf, BoxError> {
    let lock = find_lockfile()?;
    println!("cargo::rerun-if-changed={}", lock.display());
    let text = fs::read_to_string(&lock)?;
    let version = locked_version(&text).ok_or_else(|| format!("{PACKAGE} not in {}", lock.display()))?;
    let home = match env::var_os("CARGO_HOME") {
        Some(h) => PathBuf::from(h),
        None => PathBuf::from(env::var_os("HOME").ok_or("neither CARGO_HOME nor HOME is set")?).join(".cargo"),
    };
    let src = home.join("registry").join("src");
    for index in fs::read_dir(&src).map_err(|e| format!("{}: {e}", src.display()))? {
        let candidate = index?.path().join(format!("{PACKAGE}-{version}")).join(RULES);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(format!("{PACKAGE}-{version} is not unpacked under {}", src.display()).into())
}

/// The workspace's `Cargo.lock`: the nearest one above this crate.
fn find_lockfile() -> Result<PathBuf, BoxError> {
    let start = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    start
        .ancestors()
        .map(|d| d.join("Cargo.lock"))
        .find(|p| p.is_file())
        .ok_or_else(|| "no Cargo.lock above the crate".into())
}

/// The `version` of the `[[package]]` named [`PACKAGE`] from the registry.
fn locked_version(lock: &str) -> Option<String> {
    lock.split("[[package]]").find_map(|block| {
        let field = |key: &str| {
            block.lines().find_map(|l| {
                let (k, v) = l.split_once('=')?;
                (k.trim() == key).then(|| v.trim().trim_matches('"').to_owned())
            })
        };
        let registry = field("source").is_some_and(|s| s.starts_with("registry+"));
        (field("name")? == PACKAGE && registry).then(|| field("version")).flatten()
    })
}

fn existing(p: PathBuf) -> Result<PathBuf, BoxError> {
    if p.is_file() { Ok(p) } else { Err(format!("{} does not exist", p.display()).into()) }
}

fn yaml_to_json(text: &str) -> Result<Value, BoxError> {
    let mut docs = YamlLoader::load_from_str(text)?;
    if docs.len() != 1 {
        return Err(format!("expected one YAML document, found {}", docs.len()).into());
    }
    convert(docs.remove(0))
}

/// YAML node to JSON value. The rules file only holds maps, lists, strings and `null`; numbers and booleans
/// are kept as such so that an unexpected unquoted value fails loudly in `ua_parser`'s deserializer.
fn convert(y: Yaml) -> Result<Value, BoxError> {
    Ok(match y {
        Yaml::String(s) => Value::String(s),
        Yaml::Null => Value::Null,
        Yaml::Boolean(b) => Value::Bool(b),
        Yaml::Integer(i) => Value::from(i),
        Yaml::Real(r) => Value::from(r.parse::<f64>()?),
        Yaml::Array(a) => Value::Array(a.into_iter().map(convert).collect::<Result<_, _>>()?),
        Yaml::Hash(h) => {
            let mut m = Map::new();
            for (k, v) in h {
                let Yaml::String(k) = k else { return Err(format!("non-string key {k:?}").into()) };
                m.insert(k, convert(v)?);
            }
            Value::Object(m)
        }
        other => return Err(format!("unsupported YAML node {other:?}").into()),
    })
}
