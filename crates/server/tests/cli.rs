//! The operator's commands, run as the real `portcullis` binary against a fresh SQLite
//! database and key files in a temporary directory.
#![expect(clippy::unwrap_used, reason = "helpers outside #[test] fns; a failed setup should fail the test loudly")]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use portcullis_crypto::{Argon2Config, Argon2Hasher, PasetoIssuer};
use portcullis_domain::model::{AccountStatus, Email, Password, Role, User};
use portcullis_domain::ports::{PasswordHasher, UserRepository};
use portcullis_store_diesel::{DbConfig, DieselStore};

const PASSWORD: &str = "correct horse battery staple 7f3a";

/// One installation: a database, key files and mail directory in a temporary directory.
struct Install {
    dir: tempfile::TempDir,
}

impl Install {
    fn new() -> Self {
        Self { dir: tempfile::tempdir().unwrap() }
    }

    fn db_url(&self) -> String {
        format!("sqlite://{}", self.dir.path().join("x.db").display())
    }

    fn key_file(&self) -> PathBuf {
        self.dir.path().join("keys/token.key")
    }

    /// `portcullis <args>` with `stdin` piped in, in a clean environment naming only this
    /// installation.
    fn run(&self, args: &[&str], stdin: &str) -> Output {
        self.run_with_env(args, &[], stdin)
    }

    /// [`Self::run`] with `env` set on top.
    fn run_with_env(&self, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(args)
            .current_dir(self.dir.path())
            .env_clear()
            .env("DATABASE_URL", self.db_url())
            .env("PORTCULLIS__TOKENS__KEY_FILE", self.key_file())
            .env("PORTCULLIS__TOKENS__HASH_KEY_FILE", self.dir.path().join("keys/hash.key"))
            .env("PORTCULLIS__MFA__SECRET_KEY_FILE", self.dir.path().join("keys/mfa.key"))
            .env("PORTCULLIS__MAILER__TRANSPORT", "log")
            .env("PORTCULLIS__DEVICES__ENABLED", "false")
            // Cheap hashing: these tests are about the commands, not the cost.
            .env("PORTCULLIS__PASSWORDS__ARGON2_MEMORY_KIB", "1024")
            .env("PORTCULLIS__PASSWORDS__ARGON2_ITERATIONS", "1")
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    }

    fn create_admin(&self, email: &str, password_line: &str) -> Output {
        self.run(&["admin", "create", "--email", email, "--name", "Ada Operator"], password_line)
    }

    async fn user(&self, email: &str) -> Option<User> {
        let store = DieselStore::connect(&DbConfig::new(self.db_url())).await.unwrap();
        store.user_by_email(&Email::parse(email).unwrap()).await.unwrap()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn describe(output: &Output) -> String {
    format!("status {:?}\nstdout: {}\nstderr: {}", output.status, text(&output.stdout), text(&output.stderr))
}

async fn password_matches(user: &User, password: &str) -> bool {
    let hasher =
        Argon2Hasher::new(Argon2Config { memory_kib: 1024, iterations: 1, ..Argon2Config::default() }).unwrap();
    hasher.verify(Password::new(password), user.password_hash.clone()).await.unwrap()
}

#[tokio::test]
async fn admin_create_makes_an_active_verified_admin_from_a_piped_password() {
    let install = Install::new();
    let out = install.create_admin("Ada@Example.com", &format!("{PASSWORD}\nignored second line\n"));
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));

    let user = install.user("ada@example.com").await.expect("account created");
    assert_eq!(text(&out.stdout).trim(), user.id.to_string(), "stdout is the id alone");
    assert_eq!(user.status, AccountStatus::Active);
    assert!(user.email_verified_at.is_some());
    assert!(user.roles.contains(Role::Admin) && user.roles.contains(Role::User), "{:?}", user.roles);
    assert_eq!(user.name.as_str(), "Ada Operator");
    assert!(password_matches(&user, PASSWORD).await, "the first line, without its newline, is the password");
    for stream in [&out.stdout, &out.stderr] {
        assert!(!text(stream).contains("battery staple"), "{}", describe(&out));
    }
}

/// The engine is a setting: a name it does not know stops the command, naming the key; the
/// other engine makes hashes the default one reads.
#[tokio::test]
async fn the_argon2_engine_is_chosen_by_name_and_an_unknown_one_stops_the_start() {
    let install = Install::new();
    let engine = |name| [("PORTCULLIS__PASSWORDS__ARGON2_ENGINE", name)];
    let unknown = install.run_with_env(
        &["admin", "create", "--email", "ada@example.com", "--name", "Ada"],
        &engine("libargon2"),
        PASSWORD,
    );
    assert_eq!(unknown.status.code(), Some(2), "{}", describe(&unknown));
    assert!(text(&unknown.stderr).contains("passwords.argon2_engine"), "{}", describe(&unknown));
    assert!(install.user("ada@example.com").await.is_none());

    let other = install.run_with_env(
        &["admin", "create", "--email", "ada@example.com", "--name", "Ada"],
        &engine("rustcrypto"),
        PASSWORD,
    );
    assert_eq!(other.status.code(), Some(0), "{}", describe(&other));
    let user = install.user("ada@example.com").await.expect("account created");
    assert!(password_matches(&user, PASSWORD).await, "made by rustcrypto, read by the default engine");
}

#[tokio::test]
async fn a_weak_password_is_refused_and_nothing_is_created() {
    let install = Install::new();
    for (weak, why) in [
        ("shortpass7\n", "at least 15 characters"),
        ("password123456789\n", "too common"),
        ("ada@example.com\n", "not be the email"),
    ] {
        let out = install.create_admin("ada@example.com", weak);
        assert_eq!(out.status.code(), Some(1), "{weak:?}: {}", describe(&out));
        assert!(text(&out.stderr).contains(why), "{}", describe(&out));
        assert!(!text(&out.stdout).contains(weak.trim()), "{}", describe(&out));
    }
    let empty = install.create_admin("ada@example.com", "");
    assert_eq!(empty.status.code(), Some(2), "{}", describe(&empty));
    assert!(install.user("ada@example.com").await.is_none());
}

#[tokio::test]
async fn a_taken_email_or_a_bad_address_is_refused() {
    let install = Install::new();
    assert_eq!(install.create_admin("ada@example.com", PASSWORD).status.code(), Some(0));
    let again = install.create_admin("ADA@example.com", "another fine passphrase 91c2\n");
    assert_eq!(again.status.code(), Some(1), "{}", describe(&again));
    assert!(text(&again.stderr).contains("already exists"), "{}", describe(&again));
    assert!(password_matches(&install.user("ada@example.com").await.unwrap(), PASSWORD).await, "not overwritten");

    let bad = install.create_admin("not-an-address", PASSWORD);
    assert_eq!(bad.status.code(), Some(1), "{}", describe(&bad));
    assert!(text(&bad.stderr).contains("--email"), "{}", describe(&bad));
}

#[test]
fn a_password_cannot_be_given_as_an_argument() {
    let install = Install::new();
    let args = ["admin", "create", "--email", "ada@example.com", "--name", "Ada", "--password", PASSWORD];
    let out = install.run(&args, "");
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(text(&out.stderr).contains("unexpected argument '--password'"), "{}", describe(&out));
    assert!(!install.dir.path().join("x.db").exists(), "refused before touching the database");
}

#[test]
fn a_missing_config_file_is_a_usage_error() {
    let install = Install::new();
    let out = install.run(&["keys", "rotate", "--config", "nowhere.toml"], "");
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(!install.key_file().exists());
}

#[tokio::test]
async fn set_status_by_email_or_id() {
    let install = Install::new();
    assert_eq!(install.create_admin("ada@example.com", PASSWORD).status.code(), Some(0));
    let id = install.user("ada@example.com").await.unwrap().id.to_string();

    let args = ["admin", "set-status", "--email", "ada@example.com", "--status", "suspended", "--reason", "audit"];
    let out = install.run(&args, "");
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(text(&out.stdout).trim(), format!("{id} suspended"));
    assert_eq!(install.user("ada@example.com").await.unwrap().status, AccountStatus::Suspended);

    let out = install.run(&["admin", "set-status", "--id", &id, "--status", "active"], "");
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(install.user("ada@example.com").await.unwrap().status, AccountStatus::Active);

    let unknown = install.run(&["admin", "set-status", "--email", "bob@example.com", "--status", "suspended"], "");
    assert_eq!(unknown.status.code(), Some(1), "{}", describe(&unknown));
    let neither = install.run(&["admin", "set-status", "--status", "suspended"], "");
    assert_eq!(neither.status.code(), Some(2), "{}", describe(&neither));
    let both = install.run(&["admin", "set-status", "--email", "a@b.example", "--id", &id, "--status", "active"], "");
    assert_eq!(both.status.code(), Some(2), "{}", describe(&both));
    let bad_status = install.run(&["admin", "set-status", "--id", &id, "--status", "deleted"], "");
    assert_eq!(bad_status.status.code(), Some(2), "{}", describe(&bad_status));
}

#[tokio::test]
async fn reset_mfa_removes_every_factor_of_the_account() {
    use portcullis_domain::model::{AuditAction, SecretDigest, TotpStep};
    use portcullis_domain::ports::{AuditRepository, Change, FactorRepository, UnitOfWork};

    let install = Install::new();
    // The database exists once a command has run.
    assert_eq!(install.create_admin("ada@example.com", PASSWORD).status.code(), Some(0));
    let store = DieselStore::connect(&DbConfig::new(install.db_url())).await.unwrap();
    let at = portcullis_testing::fakes::T0;
    let laura = portcullis_testing::fixtures::user("laura@example.com", at);
    let factor = portcullis_testing::fixtures::factor(&laura, at);
    store
        .commit(vec![
            Change::InsertUser(laura.clone()),
            Change::InsertFactor(factor.clone()),
            Change::ConfirmFactor { factor_id: factor.id, step: TotpStep(1), at },
            Change::ReplaceRecoveryCodes { user_id: laura.id, digests: vec![SecretDigest::new(vec![1; 32])], at },
        ])
        .await
        .unwrap();

    let out = install.run(&["admin", "reset-mfa", "--email", "laura@example.com"], "");
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(text(&out.stdout).trim(), laura.id.to_string());
    assert!(text(&out.stderr).contains("removed 1 second factor"), "{}", describe(&out));
    assert!(store.factors(laura.id).await.unwrap().is_empty());
    assert!(store.recovery_codes(laura.id).await.unwrap().is_empty());
    let audit = store.audit_page(laura.id, vec![AuditAction::AdminUserMfaReset], 10, 0).await.unwrap();
    assert_eq!(audit.total_count, 1);
    assert_eq!(audit.items[0].metadata["actor_id"], "cli");

    let unknown = install.run(&["admin", "reset-mfa", "--email", "bob@example.com"], "");
    assert_eq!(unknown.status.code(), Some(1), "{}", describe(&unknown));
    let neither = install.run(&["admin", "reset-mfa"], "");
    assert_eq!(neither.status.code(), Some(2), "{}", describe(&neither));
}

#[test]
fn keys_rotate_changes_the_key_id_and_keeps_the_old_key_for_verification() {
    let install = Install::new();
    let before = PasetoIssuer::from_key_file(&install.key_file()).unwrap();
    let key_bytes = std::fs::read(install.key_file()).unwrap();

    let out = install.run(&["keys", "rotate"], "");
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let new_id = text(&out.stdout).trim().to_owned();
    assert!(new_id.starts_with("k4.lid."), "{}", describe(&out));

    let after = PasetoIssuer::from_key_file(&install.key_file()).unwrap();
    assert_eq!(after.key_id(), new_id);
    assert_ne!(after.key_id(), before.key_id());
    assert_eq!(after.retired_key_ids().collect::<Vec<_>>(), vec![before.key_id()]);
    assert!(text(&out.stderr).contains(before.key_id()), "{}", describe(&out));
    assert!(keyring_of(&install.key_file()).exists());
    let hex: String = key_bytes.iter().map(|b| format!("{b:02x}")).collect();
    for stream in [&out.stdout, &out.stderr] {
        assert!(!text(stream).contains(&hex), "no key bytes printed");
    }

    let second = install.run(&["keys", "rotate"], "");
    assert_eq!(second.status.code(), Some(0), "{}", describe(&second));
    let latest = PasetoIssuer::from_key_file(&install.key_file()).unwrap();
    assert_eq!(latest.retired_key_ids().collect::<Vec<_>>(), vec![before.key_id(), after.key_id()]);
}

fn keyring_of(key_file: &Path) -> PathBuf {
    portcullis_crypto::retired_keys_path(key_file)
}

#[test]
fn a_production_start_refuses_development_settings_before_touching_anything() {
    let install = Install::new();
    let out = install.run_with_env(&["serve"], &[("PORTCULLIS__SERVER__ENVIRONMENT", "production")], "");
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let stderr = text(&out.stderr);
    for problem in [
        "tokens.key_file",
        "tokens.hash_key_file",
        "mfa.secret_key_file",
        "server.trusted_proxies",
        "server.public_url",
        "mailer",
    ] {
        assert!(stderr.contains(problem), "{problem} not reported: {}", describe(&out));
    }
    assert!(!install.key_file().exists(), "no key was created");
    assert!(!install.dir.path().join("x.db").exists(), "no database was created");

    // `keys rotate` is how an operator provisions the first token key: production takes it.
    let dev = install.run(&["keys", "rotate"], "");
    assert_eq!(dev.status.code(), Some(0), "{}", describe(&dev));
    let out = install.run_with_env(&["serve"], &[("PORTCULLIS__SERVER__ENVIRONMENT", "production")], "");
    assert!(!text(&out.stderr).contains("tokens.key_file: "), "a rotated key is provisioned: {}", describe(&out));
}

#[test]
fn a_database_url_of_another_scheme_stops_the_start_naming_only_the_scheme() {
    for (url, scheme) in [
        ("postgress://app:s3cret-pw@127.0.0.1:5432/portcullis", "postgress"),
        ("mysql://app:s3cret-pw@127.0.0.1:3306/portcullis", "mysql"),
        ("postgresql+ssl://app:s3cret-pw@127.0.0.1:5432/portcullis", "postgresql+ssl"),
    ] {
        let install = Install::new();
        for (args, env) in [
            (&["serve"][..], vec![("DATABASE_URL", url), ("RUST_LOG", "debug")]),
            (&["serve"][..], vec![("DATABASE_URL", url), ("PORTCULLIS__SERVER__ENVIRONMENT", "production")]),
            (&["migrate"][..], vec![("DATABASE_URL", url), ("RUST_LOG", "debug")]),
        ] {
            let out = install.run_with_env(args, &env, "");
            let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            assert!(!out.status.success(), "{url} {args:?}: {stdout}\n{stderr}");
            assert!(stderr.contains(scheme) && stderr.contains("scheme"), "{url} {args:?}: {stderr}");
            assert!(!stderr.contains("s3cret") && !stdout.contains("s3cret"), "{url} {args:?}: {stderr}");
        }
        // Nothing was created in the working directory: no SQLite tree named after the URL.
        let made: Vec<_> = std::fs::read_dir(install.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name != "keys")
            .collect();
        assert_eq!(made, Vec::<String>::new(), "{url}");
    }
}
