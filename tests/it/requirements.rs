//! Issue 17.5: `Requirement::claim` (string, boolean, integer, membership
//! in an array, nested paths) and `Requirement::custom`, composed with the
//! others, named in logs and (with descriptions on) in the 403.

use axum::Router;
use axum::routing::get;
use bearer_guard::testing::TestIssuer;
use bearer_guard::{Error, Requirement, require};
use http::StatusCode;
use serde_json::json;

use crate::support::{builder, get_with, start};

fn guarded(issuer: &TestIssuer, requirement: Requirement, descriptions: bool) -> Router {
    let layer = builder(issuer)
        .error_descriptions(descriptions)
        .build()
        .expect("configuration");
    Router::new()
        .route(
            "/r",
            get(|| async { "ok" }).route_layer(require(requirement)),
        )
        .route_layer(layer)
}

/// Whether `requirement` lets a token with `claims` through the guard.
async fn passes(issuer: &TestIssuer, requirement: &Requirement, claims: serde_json::Value) -> bool {
    let mut token = issuer.token();
    if let Some(object) = claims.as_object() {
        for (name, value) in object {
            token = token.claim(name, value);
        }
    }
    let answer = get_with(
        &guarded(issuer, requirement.clone(), false),
        "/r",
        &token.sign(),
    )
    .await;
    match answer.status {
        StatusCode::OK => true,
        StatusCode::FORBIDDEN => false,
        other => panic!("{other} for {requirement}"),
    }
}

#[tokio::test]
async fn claim_requirements_compare_strings_booleans_integers_and_array_members() {
    let issuer = start().await;
    let tenant = Requirement::claim("tid", "t1");
    assert!(passes(&issuer, &tenant, json!({"tid": "t1"})).await);
    for other in [
        json!({"tid": "T1"}),
        json!({"tid": "t2"}),
        json!({}),
        json!({"tid": 1}),
    ] {
        assert!(!passes(&issuer, &tenant, other.clone()).await, "{other}");
    }

    let verified = Requirement::claim("email_verified", true);
    assert!(passes(&issuer, &verified, json!({"email_verified": true})).await);
    for other in [
        json!({"email_verified": false}),
        json!({"email_verified": "true"}),
        json!({}),
    ] {
        assert!(!passes(&issuer, &verified, other.clone()).await, "{other}");
    }

    let version = Requirement::claim("ver", 2);
    assert!(passes(&issuer, &version, json!({"ver": 2})).await);
    assert!(passes(&issuer, &version, json!({"ver": 2.0})).await);
    for other in [json!({"ver": "2"}), json!({"ver": 2.5}), json!({"ver": 3})] {
        assert!(!passes(&issuer, &version, other.clone()).await, "{other}");
    }

    // Membership in an array claim (Entra `groups`), of any JSON type.
    let group = Requirement::claim("groups", "g-admins");
    assert!(passes(&issuer, &group, json!({"groups": ["g-users", "g-admins"]})).await);
    assert!(!passes(&issuer, &group, json!({"groups": ["g-users"]})).await);
    assert!(!passes(&issuer, &group, json!({"groups": [["g-admins"]]})).await);
    assert!(
        passes(
            &issuer,
            &Requirement::claim("levels", 3),
            json!({"levels": [1, 3]})
        )
        .await
    );

    // Nested (Keycloak), and a namespaced name with dots and slashes.
    let nested = Requirement::claim(["realm_access", "roles"], "admin");
    assert!(
        passes(
            &issuer,
            &nested,
            json!({"realm_access": {"roles": ["admin"]}})
        )
        .await
    );
    assert!(!passes(&issuer, &nested, json!({"realm_access": ["admin"]})).await);
    let namespaced = Requirement::claim("https://example.com/tenant.id", "t1");
    assert!(
        passes(
            &issuer,
            &namespaced,
            json!({"https://example.com/tenant.id": "t1"})
        )
        .await
    );
}

#[tokio::test]
async fn custom_and_claim_requirements_compose_and_are_named() {
    let issuer = start().await;
    let corp = Requirement::custom("corp-account", |token| {
        token
            .registered()
            .sub
            .as_deref()
            .is_some_and(|sub| sub.starts_with("corp-"))
    });
    let requirement = Requirement::scope("notes.read")
        .and(corp.clone())
        .and(Requirement::claim("tid", "t1").or(Requirement::role("Notes.Admin")));
    assert_eq!(
        requirement.to_string(),
        "scope(notes.read) and custom(corp-account) and (claim(tid = \"t1\") or role(Notes.Admin))"
    );
    let pass = json!({"sub": "corp-7", "scp": "notes.read", "tid": "t1"});
    assert!(passes(&issuer, &requirement, pass).await);
    let admin = json!({"sub": "corp-7", "scp": "notes.read", "roles": ["Notes.Admin"]});
    assert!(passes(&issuer, &requirement, admin).await);
    let outsider = json!({"sub": "guest-1", "scp": "notes.read", "tid": "t1"});
    assert!(!passes(&issuer, &requirement, outsider).await);
    // A clone is the same requirement; another function is not.
    assert_eq!(corp.clone(), corp);
    assert_ne!(corp, Requirement::custom("corp-account", |_| true));

    // The 403: the scope it names for the client; with descriptions on,
    // what the route needs, without the claim's value.
    let token = issuer
        .token()
        .claim("sub", "guest-1")
        .scope("notes.read")
        .sign();
    let plain = get_with(&guarded(&issuer, requirement.clone(), false), "/r", &token).await;
    assert_eq!(plain.status, StatusCode::FORBIDDEN);
    assert_eq!(
        plain.www_authenticate.as_deref(),
        Some("Bearer error=\"insufficient_scope\", scope=\"notes.read\"")
    );
    let described = get_with(&guarded(&issuer, requirement.clone(), true), "/r", &token).await;
    assert_eq!(
        described.www_authenticate.as_deref(),
        Some(
            "Bearer error=\"insufficient_scope\", scope=\"notes.read\", \
             error_description=\"insufficient permission: needs scope(notes.read) and \
             custom(corp-account) and (claim(tid) or role(Notes.Admin))\""
        )
    );
    // The log line's reason is the whole requirement, value included.
    let validated = builder(&issuer)
        .build_validator()
        .expect("configuration")
        .validate(&token)
        .await
        .expect("valid token");
    let Err(Error::InsufficientScope {
        requirement: logged,
        ..
    }) = requirement.check(&validated)
    else {
        panic!("refused with insufficient_scope");
    };
    assert!(logged.contains("claim(tid = \"t1\")"), "{logged}");
}
