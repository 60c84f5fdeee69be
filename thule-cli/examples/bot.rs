//! A custom plan bot on thule's pipeline: an in-memory repository, a renderer of its own, a
//! fake cluster, and the MR comment printed. `cargo test` builds and runs it (its test
//! checks the comment); `cargo run -p thule-cli --example bot` prints it.

use std::sync::Arc;

use thule_cli::pipeline::{Pipeline, PlanRequest, ReaderFactory, Sides, report};
use thule_core::config::{ClusterSettings, ProjectConfig};
use thule_core::repo::{MemoryTree, RepoTree};
use thule_core::yaml::{ParseOptions, parse_str};
use thule_core::{ClusterReader, Manifest, Origin, discovery::ChangedFile};
use thule_render::{ProjectRender, Renderer, ToolInfo};

const CONFIG: &str = "version: v1\nclusters: {prod: {}}\n";
const PROJECT: &str = "version: v1\nproject: app\nclusterRef: prod\nnamespace: app\n";
const LIVE: &str = "{apiVersion: v1, kind: ConfigMap, metadata: {name: app}, data: {LOG: info}}";

/// Renders a project's `.yaml` files straight from the in-memory tree.
struct TreeRenderer(MemoryTree);

impl Renderer for TreeRenderer {
    fn render(&self, project: &ProjectConfig) -> ProjectRender {
        let files = self.0.files().into_iter();
        let yaml = files.filter(|f| f.starts_with(&project.dir) && f.ends_with("cm.yaml"));
        let text = yaml
            .flat_map(|f| self.0.read(&f))
            .flatten()
            .collect::<Vec<u8>>();
        let docs = parse_str(
            &String::from_utf8_lossy(&text),
            "cm.yaml",
            &ParseOptions::default(),
        );
        let to_object = |d: thule_core::Document| Manifest::from_value(d.value, Origin::default());
        let objects = docs.into_iter().flatten().flat_map(to_object).collect();
        let tool = ToolInfo {
            name: "bot".into(),
            version: "v1".into(),
        };
        ProjectRender::rendered(&project.name, objects, tool)
    }
}

/// Every cluster is the same fake one, read from YAML text (namespace `app` as the plan's).
struct FakeCluster;

#[async_trait::async_trait]
impl ReaderFactory for FakeCluster {
    async fn open(
        &self,
        name: &str,
        _: Option<&ClusterSettings>,
    ) -> Result<Box<dyn ClusterReader>, String> {
        let live = LIVE.replace("name: app", "name: app, namespace: app");
        Ok(Box::new(
            thule_kube::SnapshotReader::from_yaml(&live, name).map_err(|e| e.to_string())?,
        ))
    }
}

fn comment() -> String {
    let head = MemoryTree::new()
        .with(".thule/config.yaml", CONFIG)
        .with("app/thule.yaml", PROJECT);
    let head = head.with("app/cm.yaml", LIVE.replace("info", "debug"));
    let renderers = Sides {
        head: TreeRenderer(head.clone()),
        base: None::<TreeRenderer>,
    };
    let pipeline = Pipeline::new(Arc::new(renderers)).with_readers(Arc::new(FakeCluster));
    let changed = vec![ChangedFile::new("app/cm.yaml")];
    let (head_sha, base_sha, org, overrides) = (None, None, None, Vec::new());
    let request = PlanRequest {
        head: Arc::new(head),
        base: None,
        changed,
        head_sha,
        base_sha,
        org,
        overrides,
    };
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let outcome = runtime
        .block_on(pipeline.plan(&request))
        .expect("a valid repository");
    report::markdown_parts(&outcome.planned().expect("not cancelled"), 65_536).join("\n")
}

fn main() {
    print!("{}", comment());
}

#[test]
fn the_bot_comments_the_patch() {
    let comment = comment();
    assert!(comment.contains("1 patch"), "{comment}");
    assert!(comment.contains("LOG"), "{comment}");
}
