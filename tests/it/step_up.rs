//! Step-up authentication (RFC 9470) through the layer and a guard: the
//! permission first (403 `insufficient_scope` wins), then `acr` and the age
//! of `auth_time` (401 `insufficient_user_authentication` with the
//! `acr_values` and `max_age` the route needs), every challenge asserted byte
//! for byte, cold and from the verified-token cache, on a clock the test
//! moves.

use std::time::Duration;

use axum::Router;
use axum::routing::delete;
use bearer_guard::{BearerAuthLayer, ManualClock, Requirement, StepUp, require};
use http::StatusCode;

use crate::support::{Outcome, builder, insufficient, now_on, ok, send, start};

const STEP_UP: &str = "Bearer error=\"insufficient_user_authentication\"";

/// `DELETE /notes`: the write permission, then `step_up`.
fn app(layer: BearerAuthLayer, step_up: StepUp) -> Router {
    let write = Requirement::scope("notes.write").or(Requirement::role("Notes.ReadWrite.All"));
    Router::new()
        .route(
            "/notes",
            delete(|| async { "deleted" }).route_layer(require(write).step_up(step_up)),
        )
        .route_layer(layer)
}

fn stepped_up(challenge: &str) -> Outcome {
    Outcome {
        status: StatusCode::UNAUTHORIZED,
        www_authenticate: Some(challenge.to_owned()),
        body: String::new(),
    }
}

async fn delete_with(app: &Router, token: &str) -> Outcome {
    send(app, "DELETE", "/notes", Some(&format!("Bearer {token}"))).await
}

#[tokio::test]
async fn the_permission_first_then_acr_and_auth_time() {
    let issuer = start().await;
    let clock = ManualClock::new();
    issuer.use_clock(clock.clone());
    let layer = builder(&issuer)
        .clock(clock.clone())
        .build()
        .expect("valid configuration");
    let step_up = StepUp::new()
        .acr_values(["urn:example:mfa"])
        .max_age(Duration::from_secs(300));
    let app = app(layer, step_up);
    let both = format!("{STEP_UP}, acr_values=\"urn:example:mfa\", max_age=\"300\"");
    let now = now_on(&clock);
    let writer = |acr: &str, auth_time: i64| {
        issuer
            .token()
            .scope("notes.write")
            .claim("acr", acr)
            .claim("auth_time", auth_time)
            .sign()
    };
    let fresh = writer("urn:example:mfa", now);
    let password = writer("pwd", now);
    let reader = issuer
        .token()
        .scope("notes.read")
        .claim("acr", "pwd")
        .sign();
    let no_claims = issuer.token().scope("notes.write").sign();

    for round in 0..2 {
        // The second round answers every token from the verified-token cache.
        assert_eq!(
            delete_with(&app, &fresh).await,
            ok("deleted"),
            "round {round}"
        );
        assert_eq!(
            delete_with(&app, &reader).await,
            insufficient("notes.write"),
            "403 wins, round {round}"
        );
        assert_eq!(
            delete_with(&app, &password).await,
            stepped_up(&both),
            "another acr, round {round}"
        );
        assert_eq!(
            delete_with(&app, &no_claims).await,
            stepped_up(&both),
            "neither claim, round {round}"
        );
    }

    // Five minutes and the leeway later the sign-in is too old, for the
    // same cached token.
    clock.advance(Duration::from_secs(300 + 60));
    assert_eq!(
        delete_with(&app, &fresh).await,
        ok("deleted"),
        "inside the leeway"
    );
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        delete_with(&app, &fresh).await,
        stepped_up(&both),
        "too old"
    );
}

#[tokio::test]
async fn each_demand_alone_names_only_itself_and_resource_metadata_follows() {
    let issuer = start().await;
    let acr_only = app(
        builder(&issuer).build().expect("valid configuration"),
        StepUp::new().acr_values(["c1", "c2"]),
    );
    let token = issuer
        .token()
        .scope("notes.write")
        .claim("acr", "c3")
        .sign();
    assert_eq!(
        delete_with(&acr_only, &token).await,
        stepped_up(&format!("{STEP_UP}, acr_values=\"c1 c2\""))
    );

    let age_only = app(
        builder(&issuer)
            .resource("http://127.0.0.1:9/notes")
            .build()
            .expect("valid configuration"),
        StepUp::new().max_age(Duration::from_secs(60)),
    );
    assert_eq!(
        delete_with(&age_only, &token).await,
        stepped_up(&format!(
            "{STEP_UP}, max_age=\"60\", resource_metadata=\"http://127.0.0.1:9/.well-known/oauth-protected-resource/notes\""
        ))
    );
}

#[tokio::test]
async fn an_app_token_with_the_role_is_held_to_the_same_sign_in() {
    // An app-only token has no user, so no acr or auth_time of one: a route
    // that needs a user's step-up refuses it with the same challenge.
    let issuer = start().await;
    let app = app(
        builder(&issuer).build().expect("valid configuration"),
        StepUp::new().acr_values(["mfa"]),
    );
    let app_token = issuer
        .token()
        .claim("roles", ["Notes.ReadWrite.All"])
        .sign();
    assert_eq!(
        delete_with(&app, &app_token).await,
        stepped_up(&format!("{STEP_UP}, acr_values=\"mfa\""))
    );
}

/// Microsoft Entra authentication contexts: a token whose `acrs` lacks the
/// route's context gets the claims challenge MSAL reads, byte for byte.
#[tokio::test]
async fn an_entra_auth_context_is_asked_for_with_the_claims_challenge() {
    let issuer = start().await;
    let app = app(
        builder(&issuer).build().expect("valid configuration"),
        StepUp::new().auth_context("c1"),
    );
    let with = issuer
        .token()
        .scope("notes.write")
        .claim("acrs", ["c1"])
        .sign();
    let without = issuer
        .token()
        .scope("notes.write")
        .claim("acrs", ["c2"])
        .sign();
    for round in 0..2 {
        assert_eq!(
            delete_with(&app, &with).await,
            ok("deleted"),
            "round {round}"
        );
        assert_eq!(
            delete_with(&app, &without).await,
            stepped_up(
                "Bearer error=\"insufficient_claims\", claims=\"eyJhY2Nlc3NfdG9rZW4iOnsiYWNycyI6eyJlc3NlbnRpYWwiOnRydWUsInZhbHVlIjoiYzEifX19\""
            ),
            "round {round}"
        );
    }
}
