//! Running the binary from the workspace root, and file-tree helpers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// `thule plan` of the bundled example, head against base, with no live source yet.
pub const EXAMPLE_PLAN: &[&str] = &[
    "plan",
    "--repo",
    "examples/gitops",
    "--base-path",
    "examples/gitops-base",
];

/// `args` followed by `more`.
pub fn args_with<'a>(args: &[&'a str], more: &[&'a str]) -> Vec<&'a str> {
    let mut v = args.to_vec();
    v.extend_from_slice(more);
    v
}

/// The workspace root (where the README's commands run).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The tools directory, or a panic that says how to install the tools.
pub fn tools() -> PathBuf {
    let dir = std::env::var_os("THULE_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".tools/bin"));
    assert!(
        dir.join("helm").is_file() && dir.join("kubectl").is_file(),
        "helm and kubectl are not in {}: run scripts/install-tools.sh (or scripts/test.sh)",
        dir.display()
    );
    dir
}

/// Run `thule ARGS` in the workspace root with the pinned tools and no progress output.
#[allow(clippy::disallowed_methods)] // Runs the built binary as a user would.
pub fn thule(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_thule"))
        .args(args)
        .current_dir(root())
        .env("THULE_TOOLS_DIR", tools())
        .env("NO_COLOR", "1")
        .env_remove("KUBECONFIG")
        .output()
        .expect("running thule")
}

/// Stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("utf-8 output")
}

/// Copy a directory tree.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Run git in `dir`, failing the test on error.
#[allow(clippy::disallowed_methods)] // Builds the test repository, outside what is tested.
pub fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=thule-test",
            "-c",
            "user.email=test@thule.invalid",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?} failed");
}

/// An object of a plan: `(project, kind, namespace, name)`.
pub type ObjectId = (String, String, String, String);
/// What the plan says of it: action, detail, and `(path, op, origin)` per change.
pub type ObjectDigest = (String, Value, Vec<(String, String, String)>);

/// The decision-relevant content of a plan JSON, for comparing plans made from different
/// inputs (git revisions vs checkouts, a live server vs snapshots).
pub fn digest(plan: &Value) -> BTreeMap<ObjectId, ObjectDigest> {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let mut out = BTreeMap::new();
    for p in plan["projects"].as_array().expect("projects") {
        for o in p["objects"].as_array().expect("objects") {
            let changes = o["changes"]
                .as_array()
                .expect("changes")
                .iter()
                .map(|c| (text(&c["path"]), text(&c["op"]), text(&c["origin"])))
                .collect();
            out.insert(
                (
                    text(&p["name"]),
                    text(&o["kind"]),
                    text(&o["namespace"]),
                    text(&o["name"]),
                ),
                (text(&o["action"]), o["detail"].clone(), changes),
            );
        }
    }
    out
}
