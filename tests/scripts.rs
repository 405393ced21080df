//! `scripts/test` itself, run with stand-ins on its PATH for the tools it would call: an install
//! it cannot do stops it with a word why, and under CI snapshots are never written.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A fresh folder for the stand-ins of test `name`.
fn bin_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("audience-scripts-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A shell script `name` in `dir` running `body`.
fn stand_in(dir: &Path, name: &str, body: &str) {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The real `tool`, linked into `dir` (for a PATH that holds nothing else).
fn link(dir: &Path, tool: &str) {
    let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("no {tool} on PATH"));
    std::os::unix::fs::symlink(found, dir.join(tool)).unwrap();
}

/// `bash scripts/test` with exactly the environment `env` (HOME kept).
fn scripts_test(env: &[(&str, &str)]) -> Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bash = ["/bin/bash", "/usr/bin/bash"].into_iter().find(|p| Path::new(p).is_file()).expect("bash");
    let mut command = Command::new(bash);
    command.arg(root.join("scripts/test")).env_clear();
    if let Some(home) = std::env::var_os("HOME") {
        command.env("HOME", home);
    }
    command.envs(env.iter().copied()).output().expect("bash runs")
}

#[test]
fn without_apt_get_the_install_step_says_why() {
    // No node, npm or apt-get: only what the script needs to reach the install.
    let dir = bin_dir("no-apt");
    link(&dir, "dirname");
    let out = scripts_test(&[("PATH", dir.to_str().unwrap())]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot install nodejs npm: apt-get is not available"), "{stderr}");
    assert!(stderr.contains("error: the differential tests need Node.js and npm"), "{stderr}");
}

#[test]
fn without_root_or_sudo_the_install_step_says_why() {
    let dir = bin_dir("no-sudo");
    link(&dir, "dirname");
    stand_in(&dir, "id", "echo 1000");
    stand_in(&dir, "apt-get", "echo 'apt-get must not run without root' >&2; exit 3");
    let out = scripts_test(&[("PATH", dir.to_str().unwrap())]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot install nodejs npm: not root, and sudo is not available"), "{stderr}");
    assert!(!stderr.contains("must not run"), "{stderr}");
}

#[test]
fn under_ci_snapshots_are_never_written() {
    // Stand-ins for node, npm and cargo; the rest of the PATH as it is. cargo reports the
    // environment the tests would run in.
    let dir = bin_dir("ci");
    stand_in(&dir, "node", "echo 2.2.2");
    stand_in(&dir, "npm", "exit 0");
    stand_in(
        &dir,
        "cargo",
        r#"echo "cargo sees INSTA_UPDATE=${INSTA_UPDATE-unset} INSTA_FORCE_PASS=${INSTA_FORCE_PASS-unset}""#,
    );
    let path = format!("{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default());
    let base = [("PATH", path.as_str()), ("DATABASE_URL", "postgres://u:p@127.0.0.1:1/unused")];
    let out = scripts_test(&[base[0], base[1], ("CI", "true"), ("INSTA_UPDATE", "always"), ("INSTA_FORCE_PASS", "1")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("cargo sees INSTA_UPDATE=no INSTA_FORCE_PASS=unset"), "{stdout}");
    assert!(!stdout.contains("INSTA_UPDATE=always"), "{stdout}");
    // Outside CI, a developer's INSTA_UPDATE is theirs.
    let out = scripts_test(&[base[0], base[1], ("INSTA_UPDATE", "always")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("cargo sees INSTA_UPDATE=always"), "{stdout}");
}
