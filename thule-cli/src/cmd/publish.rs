//! `thule plan --publish`: where to publish, from flags and the CI provider's standard
//! environment (GitLab CI, GitHub Actions, Gitea/Forgejo Actions, Bitbucket Pipelines).
//!
//! With no other flag, the CI job's own variables say everything: the forge, its API, the
//! repository, the merge request, its head and base commits, and the token. Each flag
//! overrides one of them. A missing variable is an error naming it. The token is held as a
//! [`Secret`] and never printed.

use std::path::PathBuf;

use anyhow::{Context, bail};
use thule_vcs::http::Secret;
use thule_vcs::{MrRef, Provider, ProviderKind, Publisher, RepoRef};

use crate::cmd::plan::{Checkouts, say};

/// A publisher on whichever forge the target names.
pub type AnyPublisher = Publisher<Box<dyn Provider>>;

/// Publishing flags of `thule plan`.
#[derive(Debug, Default, clap::Args)]
pub struct PublishArgs {
    /// Post the plan on the merge request (one comment, older plans superseded) and set a
    /// commit status. Reads the CI environment (GitLab CI, GitHub Actions, Gitea/Forgejo
    /// Actions, Bitbucket Pipelines); the flags below override it.
    #[arg(long)]
    pub publish: bool,
    /// The forge: gitlab, github, gitea, forgejo, bitbucket.
    #[arg(long, value_name = "NAME", requires = "publish")]
    pub provider: Option<String>,
    /// The forge's API base URL (`https://gitlab.example.com/api/v4`).
    #[arg(long, value_name = "URL", requires = "publish")]
    pub vcs_url: Option<String>,
    /// GitHub's GraphQL URL (default: next to the API URL).
    #[arg(long, value_name = "URL", requires = "publish")]
    pub vcs_graphql_url: Option<String>,
    /// The repository (`group/project` or GitLab project id, `owner/repo`, `workspace/repo`).
    #[arg(long, value_name = "REPO", requires = "publish")]
    pub vcs_repo: Option<String>,
    /// The merge request (GitLab iid, pull-request number).
    #[arg(long, value_name = "N", requires = "publish")]
    pub mr: Option<u64>,
    /// The merge request's head commit (the status goes on it).
    #[arg(long, value_name = "SHA", requires = "publish")]
    pub head_sha: Option<String>,
    /// The commit status's name.
    #[arg(long, value_name = "NAME", default_value = crate::pipeline::status::DEFAULT_CONTEXT)]
    pub status_context: String,
}

/// Where and as whom to publish.
#[derive(Clone, Debug)]
pub struct Target {
    /// The forge.
    pub provider: ProviderKind,
    /// Its API base URL.
    pub api_url: String,
    /// GitHub's GraphQL URL.
    pub graphql_url: Option<String>,
    /// The merge request.
    pub mr: MrRef,
    /// Its head commit, if the environment or a flag gave it.
    pub head_sha: Option<String>,
    /// Its base commit, if the environment gave it.
    pub base_sha: Option<String>,
    /// The token.
    pub token: Secret,
    /// The token is the GitHub Actions `GITHUB_TOKEN` (its comments are authored by
    /// `github-actions[bot]`, and it may not ask who it is).
    pub actions_token: bool,
    /// A GitHub App instead of the token: app id, private key file, installation id
    /// (`THULE_GITHUB_APP_ID`, `THULE_GITHUB_APP_KEY_FILE`, `THULE_GITHUB_INSTALLATION_ID`).
    pub github_app: Option<(String, PathBuf, u64)>,
    /// Bitbucket Cloud user name when the token is an app password (`BITBUCKET_USERNAME`).
    pub bitbucket_user: Option<String>,
}

/// Which CI system the environment is, if any.
fn detect(env: &dyn Fn(&str) -> Option<String>) -> Option<ProviderKind> {
    let set = |k: &str| env(k).is_some_and(|v| !v.is_empty());
    if set("GITLAB_CI") || set("CI_API_V4_URL") {
        Some(ProviderKind::GitLab)
    } else if env("GITEA_ACTIONS").as_deref() == Some("true") {
        Some(ProviderKind::Gitea)
    } else if env("FORGEJO_ACTIONS").as_deref() == Some("true") {
        Some(ProviderKind::Forgejo)
    } else if set("GITHUB_ACTIONS") || set("GITHUB_REPOSITORY") {
        Some(ProviderKind::GitHub)
    } else if set("BITBUCKET_WORKSPACE") || set("BITBUCKET_BUILD_NUMBER") {
        Some(ProviderKind::BitbucketCloud)
    } else {
        None
    }
}

/// The publishing target from flags over the environment `env`.
///
/// # Errors
/// When the forge cannot be told, or a value it needs is in neither a flag nor the
/// environment (the message names the variable and the flag).
pub fn resolve(args: &PublishArgs, env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Target> {
    let provider = match &args.provider {
        Some(name) => ProviderKind::parse(name).with_context(|| {
            format!("--provider {name}: expected gitlab, github, gitea, forgejo or bitbucket")
        })?,
        None => detect(env).context(
            "--publish: no CI environment recognised (GitLab CI, GitHub Actions, Gitea/Forgejo Actions, Bitbucket Pipelines); pass --provider, --vcs-url, --vcs-repo, --mr and --head-sha, and the token in THULE_VCS_TOKEN",
        )?,
    };
    let get = |var: &str| env(var).filter(|v| !v.is_empty());
    let need = |flag: Option<String>, var: &str, flag_name: &str| -> anyhow::Result<String> {
        flag.or_else(|| get(var)).with_context(|| {
            format!("--publish on {provider}: {var} is not set (or pass {flag_name})")
        })
    };
    let token_from = |vars: &[&str]| -> anyhow::Result<(Secret, bool)> {
        for var in vars {
            if let Some(t) = get(var) {
                return Ok((Secret::new(t), *var == "GITHUB_TOKEN"));
            }
        }
        bail!(
            "--publish on {provider}: no token; set {} (a token that may comment on merge requests and set commit statuses)",
            vars.join(" or ")
        )
    };
    let mr_number = |var: &str| -> anyhow::Result<u64> {
        match args.mr {
            Some(n) => Ok(n),
            None => {
                let raw = need(None, var, "--mr")?;
                raw.parse()
                    .with_context(|| format!("{var}={raw} is not a merge-request number"))
            }
        }
    };
    let target = match provider {
        ProviderKind::GitLab => {
            let (token, _) = token_from(&["THULE_VCS_TOKEN", "GITLAB_TOKEN"])?;
            Target {
                provider,
                api_url: need(args.vcs_url.clone(), "CI_API_V4_URL", "--vcs-url")?,
                graphql_url: None,
                mr: mr_ref(
                    provider,
                    need(args.vcs_repo.clone(), "CI_PROJECT_ID", "--vcs-repo")?,
                    mr_number("CI_MERGE_REQUEST_IID").context(
                        "run the job in a merge-request pipeline (rules: if: $CI_PIPELINE_SOURCE == \"merge_request_event\")",
                    )?,
                ),
                // Not CI_COMMIT_SHA alone: in a merged-results pipeline that is the merge
                // commit GitLab made for the pipeline, and the MR's head is
                // CI_MERGE_REQUEST_SOURCE_BRANCH_SHA (set only there).
                head_sha: args
                    .head_sha
                    .clone()
                    .or_else(|| get("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA"))
                    .or_else(|| get("CI_COMMIT_SHA")),
                base_sha: get("CI_MERGE_REQUEST_DIFF_BASE_SHA"),
                token,
                actions_token: false,
                github_app: None,
                bitbucket_user: None,
            }
        }
        ProviderKind::GitHub | ProviderKind::Gitea | ProviderKind::Forgejo => {
            let github_app = match get("THULE_GITHUB_APP_ID") {
                Some(id) if provider == ProviderKind::GitHub => {
                    let key = need(
                        None,
                        "THULE_GITHUB_APP_KEY_FILE",
                        "the App's private key file",
                    )?;
                    let installation =
                        need(None, "THULE_GITHUB_INSTALLATION_ID", "the installation id")?;
                    let installation = installation.parse().with_context(|| {
                        format!("THULE_GITHUB_INSTALLATION_ID={installation} is not a number")
                    })?;
                    Some((id, PathBuf::from(key), installation))
                }
                _ => None,
            };
            let (token, from_actions) = match github_app {
                Some(_) => (Secret::new(""), false),
                None => token_from(&["THULE_VCS_TOKEN", "GITHUB_TOKEN"])?,
            };
            let event = github_event(get("GITHUB_EVENT_PATH"))?;
            let default_api =
                (provider == ProviderKind::GitHub).then(|| "https://api.github.com".to_owned());
            let api_url = args
                .vcs_url
                .clone()
                .or_else(|| get("GITHUB_API_URL"))
                .or(default_api)
                .with_context(|| {
                    format!(
                        "--publish on {provider}: GITHUB_API_URL is not set (or pass --vcs-url)"
                    )
                })?;
            let graphql_url = args
                .vcs_graphql_url
                .clone()
                .or_else(|| get("GITHUB_GRAPHQL_URL"))
                .or_else(|| (provider == ProviderKind::GitHub).then(|| graphql_beside(&api_url)));
            let number = match (args.mr, event.as_ref().and_then(|e| e.number)) {
                (Some(n), _) | (None, Some(n)) => n,
                (None, None) => bail!(
                    "--publish on {provider}: GITHUB_EVENT_PATH holds no pull_request event (run on `pull_request`), or pass --mr"
                ),
            };
            Target {
                provider,
                api_url,
                graphql_url,
                mr: mr_ref(
                    provider,
                    need(args.vcs_repo.clone(), "GITHUB_REPOSITORY", "--vcs-repo")?,
                    number,
                ),
                // Not GITHUB_SHA: on pull_request events that is the test merge commit.
                head_sha: args
                    .head_sha
                    .clone()
                    .or_else(|| event.as_ref().and_then(|e| e.head_sha.clone())),
                base_sha: event.and_then(|e| e.base_sha),
                token,
                actions_token: from_actions && get("GITHUB_ACTIONS").is_some(),
                github_app,
                bitbucket_user: None,
            }
        }
        ProviderKind::BitbucketCloud | ProviderKind::BitbucketDataCenter => {
            let bitbucket_user = get("BITBUCKET_USERNAME");
            let (token, _) = match &bitbucket_user {
                Some(_) => token_from(&["THULE_VCS_TOKEN", "BITBUCKET_APP_PASSWORD"])?,
                None => token_from(&["THULE_VCS_TOKEN", "BITBUCKET_TOKEN"])?,
            };
            let repo = match args.vcs_repo.clone() {
                Some(r) => r,
                None => format!(
                    "{}/{}",
                    need(None, "BITBUCKET_WORKSPACE", "--vcs-repo")?,
                    need(None, "BITBUCKET_REPO_SLUG", "--vcs-repo")?
                ),
            };
            let api_url = match (args.vcs_url.clone(), provider) {
                (Some(u), _) => u,
                (None, ProviderKind::BitbucketCloud) => "https://api.bitbucket.org/2.0".to_owned(),
                (None, _) => bail!("--publish on {provider}: pass --vcs-url"),
            };
            Target {
                provider,
                api_url,
                graphql_url: None,
                mr: mr_ref(provider, repo, mr_number("BITBUCKET_PR_ID")?),
                head_sha: args.head_sha.clone().or_else(|| get("BITBUCKET_COMMIT")),
                base_sha: None,
                token,
                actions_token: false,
                github_app: None,
                bitbucket_user,
            }
        }
    };
    Ok(target)
}

/// Connect to the target's forge and learn who the token is (the GitHub adapter answers
/// `github-actions[bot]` for the Actions token, which may not ask).
///
/// # Errors
/// When the adapter cannot be built or the forge refuses the token.
pub async fn connect(target: &Target) -> anyhow::Result<AnyPublisher> {
    let provider = provider(target)?;
    Publisher::new(provider)
        .await
        .with_context(|| format!("--publish: cannot use the token on {}", target.mr))
}

/// The forge adapter for the target.
/// The forge adapter for a target: the one place that builds adapters from a forge kind,
/// its API, a repository and credentials (`thule serve`'s runner builds its targets too).
///
/// # Errors
/// When an adapter cannot be built (a malformed repository, an unusable App key).
pub fn provider(target: &Target) -> anyhow::Result<Box<dyn Provider>> {
    let repo = target.mr.repo.path.as_str();
    let token = target.token.clone();
    Ok(match target.provider {
        ProviderKind::GitLab => Box::new(thule_vcs::gitlab::GitLab::new(
            &target.api_url,
            repo,
            token,
        )?),
        ProviderKind::GitHub => {
            let graphql = target
                .graphql_url
                .clone()
                .unwrap_or_else(|| graphql_beside(&target.api_url));
            let credentials = match &target.github_app {
                Some((app_id, key_file, installation)) => {
                    let pem = std::fs::read(key_file).with_context(|| {
                        format!("cannot read the GitHub App key file {}", key_file.display())
                    })?;
                    thule_vcs::github::Credentials::App(thule_vcs::github::GitHubApp::new(
                        app_id.clone(),
                        pem,
                        *installation,
                    )?)
                }
                None if target.actions_token => thule_vcs::github::Credentials::ActionsToken(token),
                None => thule_vcs::github::Credentials::Token(token),
            };
            Box::new(thule_vcs::github::GitHub::new(
                &target.api_url,
                &graphql,
                repo,
                credentials,
            )?)
        }
        ProviderKind::Gitea | ProviderKind::Forgejo => Box::new(thule_vcs::gitea::Gitea::new(
            &target.api_url,
            repo,
            token,
            target.provider == ProviderKind::Forgejo,
        )?),
        ProviderKind::BitbucketCloud => Box::new(thule_vcs::bitbucket::BitbucketCloud::new(
            &target.api_url,
            repo,
            match &target.bitbucket_user {
                Some(user) => thule_vcs::bitbucket::CloudAuth::AppPassword {
                    user: user.clone(),
                    password: token,
                },
                None => thule_vcs::bitbucket::CloudAuth::AccessToken(token),
            },
        )?),
        ProviderKind::BitbucketDataCenter => {
            Box::new(thule_vcs::bitbucket::BitbucketDataCenter::new(
                &target.api_url,
                repo,
                thule_vcs::bitbucket::DataCenterAuth::AccessToken(token),
            )?)
        }
    })
}

/// The merge request's head and base commits: from the CI environment, else from the forge.
///
/// # Errors
/// When the forge cannot be read.
pub async fn revisions(
    target: &Target,
    publisher: &AnyPublisher,
) -> anyhow::Result<(String, String)> {
    if let (Some(head), Some(base)) = (&target.head_sha, &target.base_sha) {
        return Ok((head.clone(), base.clone()));
    }
    let mr = publisher
        .provider()
        .merge_request(&target.mr)
        .await
        .with_context(|| format!("--publish: reading {}", target.mr))?;
    let head = target.head_sha.clone().unwrap_or(mr.head_sha);
    let base = target
        .base_sha
        .clone()
        .or(mr.base_sha)
        .with_context(|| format!("{} does not say its base commit; pass --base", target.mr))?;
    Ok((head, base))
}

/// The commit the status goes on: the MR's head.
pub(crate) fn status_sha(target: &Target, checkouts: &Checkouts) -> String {
    target
        .head_sha
        .clone()
        .or_else(|| checkouts.head_sha.clone())
        .unwrap_or_default()
}

/// Set the error status after a run that produced no plan (best effort: the run's own
/// error is what the caller reports).
pub(crate) fn failed(
    runtime: &tokio::runtime::Runtime,
    publishing: Option<&(Target, AnyPublisher)>,
    checkouts: &Checkouts,
    context: &str,
    message: &str,
) {
    let Some((target, publisher)) = publishing else {
        return;
    };
    let sha = status_sha(target, checkouts);
    let result = runtime.block_on(crate::pipeline::publish::report_failure(
        publisher, &target.mr, &sha, context, message,
    ));
    if let Err(e) = result {
        say(&format!("could not set the error status: {e}"));
    }
}

fn mr_ref(provider: ProviderKind, path: String, number: u64) -> MrRef {
    MrRef {
        repo: RepoRef { provider, path },
        number,
    }
}

/// `https://api.github.com` → `https://api.github.com/graphql`;
/// `https://ghe.example.com/api/v3` → `https://ghe.example.com/api/graphql`.
fn graphql_beside(api: &str) -> String {
    let api = api.trim_end_matches('/');
    match api.strip_suffix("/api/v3") {
        Some(host) => format!("{host}/api/graphql"),
        None => format!("{api}/graphql"),
    }
}

/// What a GitHub (or Gitea) `pull_request` event file says.
#[derive(Debug, Default)]
struct Event {
    number: Option<u64>,
    head_sha: Option<String>,
    base_sha: Option<String>,
}

fn github_event(path: Option<String>) -> anyhow::Result<Option<Event>> {
    let Some(path) = path.map(PathBuf::from) else {
        return Ok(None);
    };
    let bytes = std::fs::read(&path)
        .with_context(|| format!("cannot read GITHUB_EVENT_PATH {}", path.display()))?;
    let v: serde_json::Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("GITHUB_EVENT_PATH {} is not JSON", path.display()))?;
    let pr = &v["pull_request"];
    let text = |p: &str| pr.pointer(p).and_then(|s| s.as_str()).map(str::to_owned);
    Ok(Some(Event {
        number: pr["number"].as_u64().or_else(|| v["number"].as_u64()),
        head_sha: text("/head/sha"),
        base_sha: text("/base/sha"),
    }))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn gitlab_ci_says_everything() {
        let env = env_of(&[
            ("GITLAB_CI", "true"),
            ("CI_API_V4_URL", "https://gitlab.example.com/api/v4"),
            ("CI_PROJECT_ID", "42"),
            ("CI_MERGE_REQUEST_IID", "7"),
            ("CI_COMMIT_SHA", "abc"),
            ("CI_MERGE_REQUEST_DIFF_BASE_SHA", "def"),
            ("CI_JOB_TOKEN", "job-token-never-used"),
            ("GITLAB_TOKEN", "glpat-secret"),
        ]);
        let t = resolve(&PublishArgs::default(), &env).unwrap();
        assert_eq!(t.provider, ProviderKind::GitLab);
        assert_eq!(t.mr.to_string(), "42!7");
        assert_eq!(t.head_sha.as_deref(), Some("abc"));
        assert_eq!(t.base_sha.as_deref(), Some("def"));
        assert_eq!(t.token.expose(), "glpat-secret");
        assert!(!format!("{t:?}").contains("glpat-secret"));
    }

    #[test]
    fn a_gitlab_merged_results_pipeline_takes_the_source_branch_head_not_the_merge_commit() {
        let env = env_of(&[
            ("GITLAB_CI", "true"),
            ("CI_API_V4_URL", "https://gitlab.example.com/api/v4"),
            ("CI_PROJECT_ID", "42"),
            ("CI_MERGE_REQUEST_IID", "7"),
            ("CI_MERGE_REQUEST_EVENT_TYPE", "merged_result"),
            ("CI_COMMIT_SHA", "merge-commit"),
            ("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", "head"),
            ("CI_MERGE_REQUEST_DIFF_BASE_SHA", "base"),
            ("GITLAB_TOKEN", "glpat-secret"),
        ]);
        let t = resolve(&PublishArgs::default(), &env).unwrap();
        assert_eq!(t.head_sha.as_deref(), Some("head"));
        assert_eq!(t.base_sha.as_deref(), Some("base"));
        // Other merge-request pipelines leave it empty.
        let env = env_of(&[
            ("GITLAB_CI", "true"),
            ("CI_API_V4_URL", "https://gitlab.example.com/api/v4"),
            ("CI_PROJECT_ID", "42"),
            ("CI_MERGE_REQUEST_IID", "7"),
            ("CI_COMMIT_SHA", "head"),
            ("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", ""),
            ("GITLAB_TOKEN", "glpat-secret"),
        ]);
        let t = resolve(&PublishArgs::default(), &env).unwrap();
        assert_eq!(t.head_sha.as_deref(), Some("head"));
    }

    #[test]
    fn a_missing_variable_is_named() {
        let env = env_of(&[("GITLAB_CI", "true"), ("GITLAB_TOKEN", "x")]);
        let err = resolve(&PublishArgs::default(), &env).unwrap_err();
        assert!(format!("{err:#}").contains("CI_API_V4_URL"), "{err:#}");
        let env = env_of(&[("GITLAB_CI", "true"), ("CI_JOB_TOKEN", "x")]);
        let err = format!("{:#}", resolve(&PublishArgs::default(), &env).unwrap_err());
        assert!(err.contains("GITLAB_TOKEN"), "{err}");
        assert!(!err.contains("CI_JOB_TOKEN"), "{err}");
    }

    #[test]
    fn github_actions_reads_the_pull_request_event_not_github_sha() {
        let dir = tempfile::tempdir().unwrap();
        let event = dir.path().join("event.json");
        std::fs::write(
            &event,
            r#"{"action":"synchronize","number":5,"pull_request":{"number":5,"head":{"sha":"head1"},"base":{"sha":"base1"}}}"#,
        )
        .unwrap();
        let env = env_of(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REPOSITORY", "org/app"),
            ("GITHUB_SHA", "merge-commit"),
            ("GITHUB_EVENT_PATH", event.to_str().unwrap()),
            ("GITHUB_TOKEN", "ghs_x"),
        ]);
        let t = resolve(&PublishArgs::default(), &env).unwrap();
        assert_eq!(t.provider, ProviderKind::GitHub);
        assert_eq!(t.api_url, "https://api.github.com");
        assert_eq!(
            t.graphql_url.as_deref(),
            Some("https://api.github.com/graphql")
        );
        assert_eq!(t.head_sha.as_deref(), Some("head1"));
        assert_eq!(t.mr.number, 5);
        assert!(t.actions_token);
        assert_eq!(
            graphql_beside("https://ghe.example.com/api/v3"),
            "https://ghe.example.com/api/graphql"
        );
    }

    #[test]
    fn gitea_actions_and_bitbucket_pipelines_are_recognised() {
        let env = env_of(&[("GITEA_ACTIONS", "true"), ("GITHUB_ACTIONS", "true")]);
        assert_eq!(detect(&env), Some(ProviderKind::Gitea));
        let env = env_of(&[
            ("BITBUCKET_WORKSPACE", "ws"),
            ("BITBUCKET_REPO_SLUG", "app"),
            ("BITBUCKET_PR_ID", "3"),
            ("BITBUCKET_COMMIT", "abc"),
            ("BITBUCKET_TOKEN", "t"),
        ]);
        let t = resolve(&PublishArgs::default(), &env).unwrap();
        assert_eq!(t.mr.to_string(), "ws/app#3");
        assert_eq!(t.api_url, "https://api.bitbucket.org/2.0");
    }
}
