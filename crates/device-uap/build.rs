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

/// The `ua-parser` version this crate pins (`=0.2.2` in the workspace manifest, inlined into the published
/// manifest), so every resolve of this crate, inside our workspace or in an embedder's, unpacks exactly this
/// one. A test checks the two agree.
const PINNED_VERSION: &str = "0.2.2";

/// Finds `uap-core/regexes.yaml` in the pinned `ua-parser` package.
///
/// First in cargo's registry sources: cargo unpacks every package of the build graph before it runs build
/// scripts, and `ua-parser` is this crate's own dependency, so the pinned version is there wherever this crate
/// is built from (our workspace, a path dependency, a registry), with no subprocess and no lockfile to find.
/// Then, for builds whose sources are not in the registry cache (`cargo vendor`, a source replacement),
/// through `cargo metadata --offline --locked`, which is cargo's own answer and writes no lockfile. Only when
/// both fail does the build stop, with both reasons; nothing is printed when one succeeds.
fn locate_rules() -> Result<PathBuf, BoxError> {
    let registry_err = match via_registry() {
        Ok(p) => return Ok(p),
        Err(e) => e,
    };
    via_cargo_metadata().map_err(|metadata_err| {
        format!("cannot find {RULES} of {PACKAGE} {PINNED_VERSION}: registry: {registry_err}; cargo metadata: {metadata_err}")
            .into()
    })
}

fn via_registry() -> Result<PathBuf, BoxError> {
    let home = match env::var_os("CARGO_HOME") {
        Some(h) => PathBuf::from(h),
        None => PathBuf::from(env::var_os("HOME").ok_or("neither CARGO_HOME nor HOME is set")?).join(".cargo"),
    };
    let src = home.join("registry").join("src");
    let mut indexes: Vec<PathBuf> = fs::read_dir(&src)
        .map_err(|e| format!("{}: {e}", src.display()))?
        .filter_map(|e| Some(e.ok()?.path()))
        .collect();
    // Deterministic when several registries hold the package (a published package never changes, so any will do).
    indexes.sort();
    indexes
        .into_iter()
        .map(|index| index.join(format!("{PACKAGE}-{PINNED_VERSION}")).join(RULES))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| format!("{PACKAGE}-{PINNED_VERSION} is not unpacked under {}", src.display()).into())
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
    let pkg = packages
        .iter()
        .find(|p| p["name"] == PACKAGE && p["version"] == PINNED_VERSION)
        .ok_or("the pinned version is not in the resolve")?;
    let manifest_path = pkg["manifest_path"].as_str().ok_or("package without manifest_path")?;
    let dir = Path::new(manifest_path).parent().ok_or("manifest_path without a parent")?;
    existing(dir.join(RULES))
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
