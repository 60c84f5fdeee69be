//! Who may run comment commands: each adapter asks its forge's permission API. These run
//! against a loopback HTTP server answering with GitLab's, GitHub's and Gitea's real response
//! shapes.

use serde_json::json;
use thule_vcs::http::{RetryPolicy, Secret};
use thule_vcs::testing::{LoopbackServer, Reply};
use thule_vcs::{Actor, Permission, Provider, ProviderKind, RepoRef};

fn actor(login: &str, id: &str) -> Actor {
    Actor {
        login: login.into(),
        id: Some(id.into()),
    }
}

fn repo(provider: ProviderKind, path: &str) -> RepoRef {
    RepoRef {
        provider,
        path: path.into(),
    }
}

fn fast() -> RetryPolicy {
    RetryPolicy {
        attempts: 2,
        base_delay: std::time::Duration::from_millis(1),
        budget: std::time::Duration::from_secs(1),
    }
}

#[tokio::test]
async fn gitlab_access_levels_map_to_permissions() {
    let server = LoopbackServer::start(|r| match r.path.as_str() {
        "/api/v4/projects/group%2Fapp/members/all/17" => Reply::json(
            200,
            &json!({"id": 17, "username": "dev", "access_level": 30}),
        ),
        "/api/v4/projects/group%2Fapp/members/all/18" => Reply::json(
            200,
            &json!({"id": 18, "username": "rep", "access_level": 20}),
        ),
        _ => Reply::json(404, &json!({"message": "404 Not found"})),
    })
    .await;
    let gl = thule_vcs::gitlab::GitLab::new(
        &format!("{}/api/v4", server.url()),
        "group/app",
        Secret::new("glpat-x"),
    )
    .unwrap()
    .with_retry(fast());
    let r = repo(ProviderKind::GitLab, "group/app");
    assert_eq!(
        gl.permission(&r, &actor("dev", "17")).await.unwrap(),
        Permission::Write
    );
    assert_eq!(
        gl.permission(&r, &actor("rep", "18")).await.unwrap(),
        Permission::Read
    );
    assert_eq!(
        gl.permission(&r, &actor("nobody", "99")).await.unwrap(),
        Permission::None
    );
    let lines: Vec<String> = server.requests().iter().map(|r| r.line()).collect();
    assert!(
        lines.contains(&"GET /api/v4/projects/group%2Fapp/members/all/17".to_owned()),
        "{lines:?}"
    );
}

#[tokio::test]
async fn github_and_gitea_permissions_come_from_the_collaborator_api() {
    let server = LoopbackServer::start(|r| {
        let perm = |p: &str| Reply::json(200, &json!({"permission": p, "user": {"login": "x"}}));
        match r.path.as_str() {
            "/repos/org/app/collaborators/writer/permission" => perm("write"),
            "/repos/org/app/collaborators/boss/permission" => perm("admin"),
            "/repos/org/app/collaborators/reader/permission" => perm("read"),
            _ => Reply::json(404, &json!({"message": "Not Found"})),
        }
    })
    .await;
    let gh = thule_vcs::github::GitHub::new(
        &server.url(),
        &format!("{}/graphql", server.url()),
        "org/app",
        thule_vcs::github::Credentials::Token(Secret::new("ghp-x")),
    )
    .unwrap()
    .with_retry(fast());
    let r = repo(ProviderKind::GitHub, "org/app");
    assert_eq!(
        gh.permission(&r, &Actor::login("writer")).await.unwrap(),
        Permission::Write
    );
    assert_eq!(
        gh.permission(&r, &Actor::login("boss")).await.unwrap(),
        Permission::Admin
    );
    assert_eq!(
        gh.permission(&r, &Actor::login("stranger")).await.unwrap(),
        Permission::None
    );

    let gitea = thule_vcs::gitea::Gitea::new(&server.url(), "org/app", Secret::new("t"), false)
        .unwrap()
        .with_retry(fast());
    let r = repo(ProviderKind::Gitea, "org/app");
    assert_eq!(
        gitea.permission(&r, &Actor::login("reader")).await.unwrap(),
        Permission::Read
    );
    assert_eq!(
        gitea.permission(&r, &Actor::login("writer")).await.unwrap(),
        Permission::Write
    );
}
