//! Identity and access end to end: sign-in, tokens, sessions, lockout, roles, rate limits.

use reqwest::Method;
use serde_json::json;

use crate::harness::{Db, PASSWORD, TestApp, assert_error};

async fn sign_in_refresh_and_reuse_detection(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    app.register("ada@example.org").await;
    let first = app.login_ok("Ada@Example.org").await;
    assert_eq!(first.body["token_type"], "Bearer");
    assert_eq!(first.body["expires_in"], 900);
    let me = app.get_as("/api/v1/me", &first.access).await;
    assert_eq!(me.status(), 200);
    assert_eq!(
        me.json::<serde_json::Value>().await.unwrap()["email"],
        "ada@example.org"
    );

    // Rotation: each refresh token works once and yields a new pair.
    let response = app.refresh(&first.refresh).await;
    assert_eq!(response.status(), 200);
    let second: serde_json::Value = response.json().await.unwrap();
    assert_ne!(second["refresh_token"], first.body["refresh_token"]);
    assert_eq!(second["session_id"], first.body["session_id"]);
    let second_refresh = second["refresh_token"].as_str().unwrap().to_owned();
    let second_access = second["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.get_as("/api/v1/me", &second_access).await.status(), 200);

    // Replaying the spent token ends the whole session, successor included.
    assert_error(
        app.refresh(&first.refresh).await,
        401,
        "invalid_refresh_token",
    )
    .await;
    assert_error(
        app.refresh(&second_refresh).await,
        401,
        "invalid_refresh_token",
    )
    .await;
    assert_error(
        app.get_as("/api/v1/me", &second_access).await,
        401,
        "invalid_token",
    )
    .await;
    let audit = app.store.recent_audit(20).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "auth.refresh_reuse" && e.outcome == "denied")
    );
}

async fn lockout_engages_and_lifts(db: Db) {
    let Some(app) = TestApp::builder(db)
        .env("JOBPILOT_LOCKOUT_THRESHOLD", "3")
        .env("JOBPILOT_LOCKOUT_SECONDS", "1")
        .spawn()
        .await
    else {
        return;
    };
    app.register("grace@example.org").await;
    for _ in 0..3 {
        assert_error(
            app.login("grace@example.org", "wrong password!").await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    // Locked: even the right password is refused, with the same answer.
    let locked = assert_error(
        app.login("grace@example.org", PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    let unknown = assert_error(
        app.login("nobody@example.org", PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(locked["error"]["message"], unknown["error"]["message"]);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    app.login_ok("grace@example.org").await;
    let audit = app.store.recent_audit(50).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "auth.login" && e.details.contains("locked_until"))
    );
    assert!(
        audit
            .iter()
            .any(|e| e.action == "auth.login" && e.outcome == "denied")
    );
    assert!(audit.iter().all(|e| e.ip.as_deref() == Some("127.0.0.1")));
}

async fn logout_ends_this_session_and_logout_all_ends_every_one(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    app.register("linus@example.org").await;
    let laptop = app.login_ok("linus@example.org").await;
    let phone = app.login_ok("linus@example.org").await;
    let tablet = app.login_ok("linus@example.org").await;

    let response = app
        .send_as(Method::POST, "/api/v1/auth/logout", &laptop.access, None)
        .await;
    assert_eq!(response.status(), 204);
    assert_error(
        app.get_as("/api/v1/me", &laptop.access).await,
        401,
        "invalid_token",
    )
    .await;
    assert_error(
        app.refresh(&laptop.refresh).await,
        401,
        "invalid_refresh_token",
    )
    .await;
    assert_eq!(app.get_as("/api/v1/me", &phone.access).await.status(), 200);

    let response = app
        .send_as(Method::POST, "/api/v1/auth/logout-all", &phone.access, None)
        .await;
    assert_eq!(response.status(), 204);
    for tokens in [&phone, &tablet] {
        assert_error(
            app.get_as("/api/v1/me", &tokens.access).await,
            401,
            "invalid_token",
        )
        .await;
        assert_error(
            app.refresh(&tokens.refresh).await,
            401,
            "invalid_refresh_token",
        )
        .await;
    }
}

async fn password_change_ends_other_sessions(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    app.register("barbara@example.org").await;
    let here = app.login_ok("barbara@example.org").await;
    let elsewhere = app.login_ok("barbara@example.org").await;
    let change = |current: &str, new: &str| {
        let body = json!({"current_password": current, "new_password": new});
        let token = here.access.clone();
        let app = &app;
        async move {
            app.send_as(Method::PUT, "/api/v1/me/password", &token, Some(&body))
                .await
        }
    };
    assert_error(
        change("not my password", "a brand new password").await,
        403,
        "invalid_credentials",
    )
    .await;
    let body = assert_error(
        change(PASSWORD, "123qweasdzxc").await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(body["error"]["details"][0]["target"], "new_password");
    assert_eq!(change(PASSWORD, "a brand new password").await.status(), 204);
    assert_eq!(app.get_as("/api/v1/me", &here.access).await.status(), 200);
    assert_error(
        app.get_as("/api/v1/me", &elsewhere.access).await,
        401,
        "invalid_token",
    )
    .await;
    assert_error(
        app.login("barbara@example.org", PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(
        app.login("barbara@example.org", "a brand new password")
            .await
            .status(),
        200
    );
}

async fn admins_manage_accounts(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let admin = app.user("root@example.org", domain::Role::Admin).await;
    let seeker = app.user("seeker@example.org", domain::Role::Seeker).await;
    app.register("third@example.org").await;

    // Pages.
    let page: serde_json::Value = app
        .get_as("/api/v1/admin/users?limit=2", &admin.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest: serde_json::Value = app
        .get_as(
            &format!("/api/v1/admin/users?limit=2&after={cursor}"),
            &admin.access,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert!(rest["next_cursor"].is_null());
    assert_error(
        app.get_as("/api/v1/admin/users?limit=0", &admin.access)
            .await,
        422,
        "validation_failed",
    )
    .await;
    assert_error(
        app.get_as("/api/v1/admin/users?after=nope", &admin.access)
            .await,
        422,
        "validation_failed",
    )
    .await;

    // A role change ends the user's sessions; the next sign-in carries the new role.
    let seeker_id = app
        .get_as("/api/v1/me", &seeker.access)
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/v1/admin/users/{seeker_id}");
    let updated = app
        .send_as(
            Method::PATCH,
            &path,
            &admin.access,
            Some(&json!({"role": "recruiter"})),
        )
        .await;
    assert_eq!(updated.status(), 200);
    assert_eq!(
        updated.json::<serde_json::Value>().await.unwrap()["role"],
        "recruiter"
    );
    assert_error(
        app.get_as("/api/v1/me", &seeker.access).await,
        401,
        "invalid_token",
    )
    .await;
    let again = app.login_ok("seeker@example.org").await;
    assert_eq!(
        app.get_as("/api/v1/me", &again.access)
            .await
            .json::<serde_json::Value>()
            .await
            .unwrap()["role"],
        "recruiter"
    );

    // Locking refuses sign-in; unlocking restores it.
    let locked = app
        .send_as(
            Method::PATCH,
            &path,
            &admin.access,
            Some(&json!({"disabled": true})),
        )
        .await;
    assert_eq!(
        locked.json::<serde_json::Value>().await.unwrap()["disabled"],
        true
    );
    assert_error(
        app.get_as("/api/v1/me", &again.access).await,
        401,
        "invalid_token",
    )
    .await;
    assert_error(
        app.login("seeker@example.org", PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    app.send_as(
        Method::PATCH,
        &path,
        &admin.access,
        Some(&json!({"disabled": false})),
    )
    .await;
    app.login_ok("seeker@example.org").await;

    // Not on oneself; not on nobody; not with nonsense.
    let admin_id = app
        .get_as("/api/v1/me", &admin.access)
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_error(
        app.send_as(
            Method::PATCH,
            &format!("/api/v1/admin/users/{admin_id}"),
            &admin.access,
            Some(&json!({"role": "seeker"})),
        )
        .await,
        409,
        "cannot_change_own_account",
    )
    .await;
    assert_error(
        app.send_as(
            Method::PATCH,
            &format!("/api/v1/admin/users/{}", uuid::Uuid::now_v7()),
            &admin.access,
            Some(&json!({"disabled": true})),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    assert_error(
        app.send_as(
            Method::PATCH,
            "/api/v1/admin/users/not-a-uuid",
            &admin.access,
            Some(&json!({})),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    assert_error(
        app.send_as(
            Method::PATCH,
            &path,
            &admin.access,
            Some(&json!({"role": "superuser"})),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    let audit = app.store.recent_audit(50).await.unwrap();
    assert!(audit.iter().any(|e| e.action == "admin.user_role"));
    assert!(audit.iter().any(|e| e.action == "admin.user_lock"));
}

crate::on_both_databases!(
    sign_in_refresh_and_reuse_detection,
    lockout_engages_and_lifts,
    logout_ends_this_session_and_logout_all_ends_every_one,
    password_change_ends_other_sessions,
    admins_manage_accounts,
);

/// The role matrix, from the OpenAPI document: every secured operation refuses anonymous
/// callers, every admin operation refuses seekers and recruiters.
#[tokio::test]
async fn every_secured_route_refuses_the_wrong_callers() {
    let app = TestApp::spawn(Db::Sqlite).await.unwrap();
    let seeker = app.user("s@example.org", domain::Role::Seeker).await;
    let recruiter = app.user("r@example.org", domain::Role::Recruiter).await;
    let spec = serde_json::to_value(web::openapi()).unwrap();
    let mut secured = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if operation.get("security").is_none() {
                continue;
            }
            secured += 1;
            let concrete = path.replace("{id}", &uuid::Uuid::now_v7().to_string());
            let method: Method = method.to_uppercase().parse().unwrap();
            let body = operation.get("requestBody").map(|_| json!({}));
            let mut request = app.client.request(method.clone(), app.url(&concrete));
            if let Some(body) = &body {
                request = request.json(body);
            }
            let anonymous = request.send().await.unwrap();
            assert_eq!(anonymous.status(), 401, "{method} {path} without a token");
            assert!(anonymous.headers().contains_key("www-authenticate"));
            if path.starts_with("/api/v1/admin/") {
                for tokens in [&seeker, &recruiter] {
                    let response = app
                        .send_as(method.clone(), &concrete, &tokens.access, body.as_ref())
                        .await;
                    assert_error(response, 403, "forbidden").await;
                }
            }
        }
    }
    assert!(secured >= 6, "{secured}");
}

#[tokio::test]
async fn forged_expired_and_foreign_tokens_are_refused() {
    use auth::TokenIssuer;
    let secret = "test-secret-0123456789-0123456789-0123456789";
    let app = TestApp::builder(Db::Sqlite)
        .env("JOBPILOT_JWT_SECRET", secret)
        .spawn()
        .await
        .unwrap();
    let tokens = app.user("eve@example.org", domain::Role::Seeker).await;
    let claims = app
        .state
        .tokens()
        .verify(&tokens.access, chrono::Utc::now())
        .unwrap();
    let issuer = |audience: &str, key: &str| {
        TokenIssuer::new([key], "jobpilot", audience, chrono::Duration::minutes(15)).unwrap()
    };
    let now = chrono::Utc::now();
    let expired = issuer(web::AUDIENCE, secret)
        .issue(
            claims.user_id(),
            claims.role,
            claims.session_id(),
            now - chrono::Duration::hours(1),
        )
        .0;
    let foreign = issuer("another-service", secret)
        .issue(claims.user_id(), claims.role, claims.session_id(), now)
        .0;
    let wrong_key = issuer(web::AUDIENCE, "some-other-secret-0123456789-0123456789")
        .issue(
            claims.user_id(),
            domain::Role::Admin,
            claims.session_id(),
            now,
        )
        .0;
    let parts: Vec<&str> = tokens.access.split('.').collect();
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let none_header = b64.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let alg_none = format!("{none_header}.{}.", parts[1]);
    let mut payload: serde_json::Value =
        serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
    payload["role"] = json!("admin");
    let escalated = format!(
        "{}.{}.{}",
        parts[0],
        b64.encode(payload.to_string()),
        parts[2]
    );
    for (name, token) in [
        ("expired", expired),
        ("foreign audience", foreign),
        ("wrong key", wrong_key),
        ("alg none", alg_none),
        ("role escalated", escalated),
        ("garbage", "not.a.token".to_owned()),
    ] {
        let response = app.get_as("/api/v1/me", &token).await;
        assert_eq!(response.status(), 401, "{name}");
        assert_error(response, 401, "invalid_token").await;
        let admin = app.get_as("/api/v1/admin/users", &token).await;
        assert_eq!(admin.status(), 401, "{name} on an admin route");
    }
    assert_eq!(app.get_as("/api/v1/me", &tokens.access).await.status(), 200);
}

#[tokio::test]
async fn unknown_accounts_and_wrong_passwords_look_the_same() {
    let app = TestApp::spawn(Db::Sqlite).await.unwrap();
    app.register("known@example.org").await;
    let wrong = assert_error(
        app.login("known@example.org", "not the password").await,
        401,
        "invalid_credentials",
    )
    .await;
    let unknown = assert_error(
        app.login("unknown@example.org", "not the password").await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(wrong["error"]["message"], unknown["error"]["message"]);
    // Over-long passwords are refused without hashing them.
    let huge = "x".repeat(100_000);
    assert_error(
        app.login("known@example.org", &huge).await,
        401,
        "invalid_credentials",
    )
    .await;
}

#[tokio::test]
async fn common_passwords_are_refused_at_registration() {
    let app = TestApp::spawn(Db::Sqlite).await.unwrap();
    let body = assert_error(
        app.post_json(
            "/api/v1/auth/register",
            &json!({"email": "a@example.org", "password": "1qaz2wsx3edc"}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("common")
    );
}

#[tokio::test]
async fn auth_attempts_are_rate_limited_per_address_and_per_account() {
    let app = TestApp::builder(Db::Sqlite)
        .env("JOBPILOT_AUTH_RATE_LIMIT", "3")
        .env("JOBPILOT_TRUSTED_PROXIES", "127.0.0.1")
        .spawn()
        .await
        .unwrap();
    let attempt = |ip: &'static str, email: &'static str| {
        app.client
            .post(app.url("/api/v1/auth/login"))
            .header("x-forwarded-for", ip)
            .json(&json!({"email": email, "password": "wrong password!"}))
            .send()
    };
    for _ in 0..3 {
        assert_eq!(
            attempt("198.51.100.1", "a@example.org")
                .await
                .unwrap()
                .status(),
            401
        );
    }
    let limited = attempt("198.51.100.1", "b@example.org").await.unwrap();
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(limited.headers()["ratelimit-limit"], "3");
    assert_error(limited, 429, "rate_limited").await;
    // Another address has its own allowance, but the account "a" is spent everywhere.
    assert_eq!(
        attempt("198.51.100.2", "c@example.org")
            .await
            .unwrap()
            .status(),
        401
    );
    assert_error(
        attempt("198.51.100.3", "a@example.org").await.unwrap(),
        429,
        "rate_limited",
    )
    .await;
}

#[tokio::test]
async fn forwarded_addresses_are_ignored_unless_the_proxy_is_trusted() {
    let app = TestApp::builder(Db::Sqlite)
        .env("JOBPILOT_AUTH_RATE_LIMIT", "2")
        .spawn()
        .await
        .unwrap();
    for (i, ip) in ["198.51.100.1", "198.51.100.2"].into_iter().enumerate() {
        let response = app
            .client
            .post(app.url("/api/v1/auth/login"))
            .header("x-forwarded-for", ip)
            .json(&json!({"email": format!("u{i}@example.org"), "password": "wrong password!"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
    }
    // Spoofed X-Forwarded-For does not buy a fresh allowance.
    let third = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("x-forwarded-for", "198.51.100.3")
        .json(&json!({"email": "u3@example.org", "password": "wrong password!"}))
        .send()
        .await
        .unwrap();
    assert_error(third, 429, "rate_limited").await;
}

#[tokio::test]
async fn the_global_limit_applies_to_every_route_but_the_probes() {
    let app = TestApp::builder(Db::Sqlite)
        .env("JOBPILOT_RATE_LIMIT", "5")
        .spawn()
        .await
        .unwrap();
    for _ in 0..5 {
        assert_eq!(app.get("/api/openapi.json").await.status(), 200);
    }
    let limited = app.get("/api/v1/me").await;
    assert!(limited.headers().contains_key("retry-after"));
    assert_error(limited, 429, "rate_limited").await;
    for _ in 0..10 {
        assert_eq!(app.get("/health/live").await.status(), 200);
    }
}

#[tokio::test]
async fn concurrent_refreshes_of_one_token_succeed_at_most_once() {
    let app = TestApp::spawn(Db::Sqlite).await.unwrap();
    let tokens = app.user("race@example.org", domain::Role::Seeker).await;
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let client = app.client.clone();
        let url = app.url("/api/v1/auth/refresh");
        let refresh = tokens.refresh.clone();
        set.spawn(async move {
            client
                .post(url)
                .json(&json!({"refresh_token": refresh}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    let statuses = set.join_all().await;
    assert!(
        statuses.iter().filter(|s| **s == 200).count() <= 1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 401),
        "{statuses:?}"
    );
}

async fn api_keys_work_within_their_scopes_until_revoked(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let seeker = app.user("script@example.org", domain::Role::Seeker).await;
    let create = |token: String, body: serde_json::Value| {
        let app = &app;
        async move {
            app.send_as(Method::POST, "/api/v1/me/api-keys", &token, Some(&body))
                .await
        }
    };
    let response = create(
        seeker.access.clone(),
        json!({"name": "export", "scopes": ["account:read"], "expires_in_days": 30}),
    )
    .await;
    assert_eq!(response.status(), 201);
    let created: serde_json::Value = response.json().await.unwrap();
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with(&format!("jp_{}_", created["prefix"].as_str().unwrap())));

    // Both header forms work for what the scope covers.
    let me = app
        .client
        .get(app.url("/api/v1/me"))
        .header("x-api-key", &secret)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    assert_eq!(app.get_as("/api/v1/me", &secret).await.status(), 200);
    // Never more than the role, never account management.
    assert_error(
        app.get_as("/api/v1/admin/users", &secret).await,
        403,
        "forbidden",
    )
    .await;
    assert_error(
        create(
            secret.clone(),
            json!({"name": "child", "scopes": ["account:read"]}),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    assert_error(
        app.send_as(
            Method::PUT,
            "/api/v1/me/password",
            &secret,
            Some(&json!({"current_password": PASSWORD, "new_password": "a brand new password"})),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    assert_error(
        create(
            seeker.access.clone(),
            json!({"name": "x", "scopes": ["admin"]}),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    assert_error(
        create(
            seeker.access.clone(),
            json!({"name": "x", "scopes": ["root"]}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_error(
        create(seeker.access.clone(), json!({"name": "", "scopes": []})).await,
        422,
        "validation_failed",
    )
    .await;
    // Over 100 characters as sent, even when trimming would bring it under.
    let padded = format!("\u{85}{}", "n".repeat(100));
    assert_error(
        create(
            seeker.access.clone(),
            json!({"name": padded, "scopes": ["applications"]}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;

    // Listed without the secret, with its last use.
    let listed: serde_json::Value = app
        .get_as("/api/v1/me/api-keys", &seeker.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(listed[0].get("secret").is_none());
    assert!(!listed.to_string().contains(&secret[16..]));
    assert!(listed[0]["last_used_at"].is_string(), "{listed}");

    // Tampered and revoked keys are refused.
    let mut tampered = secret.clone();
    tampered.pop();
    tampered.push('x');
    assert_error(
        app.get_as("/api/v1/me", &tampered).await,
        401,
        "invalid_api_key",
    )
    .await;
    let id = created["id"].as_str().unwrap();
    let revoke = app
        .send_as(
            Method::DELETE,
            &format!("/api/v1/me/api-keys/{id}"),
            &seeker.access,
            None,
        )
        .await;
    assert_eq!(revoke.status(), 204);
    assert_error(
        app.get_as("/api/v1/me", &secret).await,
        401,
        "invalid_api_key",
    )
    .await;
    assert_error(
        app.send_as(
            Method::DELETE,
            &format!("/api/v1/me/api-keys/{id}"),
            &seeker.access,
            None,
        )
        .await,
        404,
        "not_found",
    )
    .await;
}

async fn admin_keys_need_the_admin_scope_and_role(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let admin = app.user("ops@example.org", domain::Role::Admin).await;
    let key = |scopes: serde_json::Value| {
        let app = &app;
        let token = admin.access.clone();
        async move {
            let response = app
                .send_as(
                    Method::POST,
                    "/api/v1/me/api-keys",
                    &token,
                    Some(&json!({"name": "k", "scopes": scopes})),
                )
                .await;
            assert_eq!(response.status(), 201);
            response.json::<serde_json::Value>().await.unwrap()["secret"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let reader = key(json!(["account:read"])).await;
    let operator = key(json!(["admin", "account:read"])).await;
    assert_error(
        app.get_as("/api/v1/admin/users", &reader).await,
        403,
        "forbidden",
    )
    .await;
    assert_eq!(
        app.get_as("/api/v1/admin/users", &operator).await.status(),
        200
    );
    // Demoted owner: the key's admin scope no longer counts.
    let owner = app
        .store
        .user_by_email(&domain::Email::parse("ops@example.org").unwrap())
        .await
        .unwrap()
        .unwrap();
    app.store
        .set_role(owner.id, domain::Role::Seeker)
        .await
        .unwrap();
    assert_error(
        app.get_as("/api/v1/admin/users", &operator).await,
        403,
        "forbidden",
    )
    .await;
    // Expired keys are refused.
    let expired = auth::new_api_key();
    app.store
        .create_api_key(&domain::ApiKey {
            id: domain::ApiKeyId::new(),
            user_id: owner.id,
            name: "old".into(),
            prefix: expired.prefix.clone(),
            secret_hash: expired.secret_hash,
            scopes: vec![domain::Scope::AccountRead],
            created_at: chrono::Utc::now() - chrono::Duration::days(10),
            expires_at: Some(chrono::Utc::now() - chrono::Duration::days(1)),
            last_used_at: None,
            revoked_at: None,
        })
        .await
        .unwrap();
    assert_error(
        app.get_as("/api/v1/me", &expired.token).await,
        401,
        "invalid_api_key",
    )
    .await;
}

mod keys {
    use super::*;
    crate::on_both_databases!(
        api_keys_work_within_their_scopes_until_revoked,
        admin_keys_need_the_admin_scope_and_role,
    );
    async fn api_keys_work_within_their_scopes_until_revoked(db: Db) {
        super::api_keys_work_within_their_scopes_until_revoked(db).await
    }
    async fn admin_keys_need_the_admin_scope_and_role(db: Db) {
        super::admin_keys_need_the_admin_scope_and_role(db).await
    }
}

pub(crate) fn base32_decode(text: &str) -> Vec<u8> {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0);
    for c in text.bytes() {
        let value = alphabet.iter().position(|a| *a == c).unwrap() as u32;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    out
}

async fn two_factor_enrolment_sign_in_and_removal(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let tokens = app.user("careful@example.org", domain::Role::Seeker).await;
    let post = |path: &'static str, token: String, body: Option<serde_json::Value>| {
        let app = &app;
        async move { app.send_as(Method::POST, path, &token, body.as_ref()).await }
    };
    assert_error(
        post(
            "/api/v1/me/2fa/confirm",
            tokens.access.clone(),
            Some(json!({"code": "123456"})),
        )
        .await,
        409,
        "no_pending_setup",
    )
    .await;
    let setup: serde_json::Value = post("/api/v1/me/2fa/setup", tokens.access.clone(), None)
        .await
        .json()
        .await
        .unwrap();
    let secret = base32_decode(setup["secret"].as_str().unwrap());
    assert!(
        setup["otpauth_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/jobpilot:careful%40example.org?")
    );
    assert!(setup["qr_svg"].as_str().unwrap().contains("<svg"));
    use base64::Engine as _;
    let png = base64::engine::general_purpose::STANDARD
        .decode(setup["qr_png_base64"].as_str().unwrap())
        .unwrap();
    assert!(png.starts_with(b"\x89PNG"));

    let now_step = auth::step_at(chrono::Utc::now().timestamp());
    assert_error(
        post(
            "/api/v1/me/2fa/confirm",
            tokens.access.clone(),
            Some(json!({"code": "000000"})),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    let confirmed = post(
        "/api/v1/me/2fa/confirm",
        tokens.access.clone(),
        Some(json!({"code": auth::code_at(&secret, now_step)})),
    )
    .await;
    assert_eq!(confirmed.status(), 200);
    let backup: Vec<String> = confirmed.json::<serde_json::Value>().await.unwrap()["backup_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(backup.len(), 10);
    assert_error(
        post("/api/v1/me/2fa/setup", tokens.access.clone(), None).await,
        409,
        "two_factor_enabled",
    )
    .await;

    // The secret is sealed at rest, bound to its row.
    let user = app
        .store
        .user_by_email(&domain::Email::parse("careful@example.org").unwrap())
        .await
        .unwrap()
        .unwrap();
    let sealed = app.store.totp(user.id).await.unwrap().secret.unwrap();
    assert!(!sealed.windows(secret.len()).any(|w| w == secret.as_slice()));
    let elsewhere = auth::Place {
        table: "users",
        column: "totp_secret",
        row: "someone-else",
    };
    assert!(app.state.key_ring().open(&sealed, elsewhere).is_err());

    // Sign-in now takes two steps.
    let first = app
        .login("careful@example.org", PASSWORD)
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(first["second_factor_required"], true);
    assert!(first.get("access_token").is_none());
    let challenge = first["challenge"].as_str().unwrap().to_owned();
    let second = |code: String| {
        let app = &app;
        let challenge = challenge.clone();
        async move {
            app.post_json(
                "/api/v1/auth/login/2fa",
                &json!({"challenge": challenge, "code": code}),
            )
            .await
        }
    };
    assert_error(second("000000".into()).await, 401, "invalid_code").await;
    // The step used to confirm is spent; the next one is within the allowed skew.
    assert_error(
        second(auth::code_at(&secret, now_step)).await,
        401,
        "invalid_code",
    )
    .await;
    let next = auth::code_at(&secret, now_step + 1);
    let signed_in = second(next.clone()).await;
    assert_eq!(signed_in.status(), 200);
    let access = signed_in.json::<serde_json::Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.get_as("/api/v1/me", &access).await.status(), 200);
    assert_error(second(next).await, 401, "invalid_code").await;
    // Backup codes work once each, typed loosely.
    assert_eq!(
        second(backup[0].to_uppercase().replace('-', " "))
            .await
            .status(),
        200
    );
    assert_error(second(backup[0].clone()).await, 401, "invalid_code").await;
    // A challenge is no access token, and an access token is no challenge.
    assert_error(
        app.get_as("/api/v1/me", &challenge).await,
        401,
        "invalid_token",
    )
    .await;
    assert_error(
        app.post_json(
            "/api/v1/auth/login/2fa",
            &json!({"challenge": access, "code": backup[1]}),
        )
        .await,
        401,
        "invalid_challenge",
    )
    .await;

    // Turning it off takes the password and a code.
    assert_error(
        post(
            "/api/v1/me/2fa/disable",
            access.clone(),
            Some(json!({"password": "wrong password!", "code": backup[1]})),
        )
        .await,
        403,
        "invalid_credentials",
    )
    .await;
    let off = post(
        "/api/v1/me/2fa/disable",
        access.clone(),
        Some(json!({"password": PASSWORD, "code": backup[1]})),
    )
    .await;
    assert_eq!(off.status(), 204);
    let plain = app
        .login("careful@example.org", PASSWORD)
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert!(plain["access_token"].is_string());
    let audit = app.store.recent_audit(50).await.unwrap();
    assert!(audit.iter().any(|e| e.action == "account.2fa_enable"));
    assert!(
        audit
            .iter()
            .any(|e| e.action == "account.2fa_disable" && e.outcome == "success")
    );
    assert!(audit.iter().any(|e| e.details.contains("backup_code")));
}

mod two_factor {
    use super::*;
    crate::on_both_databases!(two_factor_enrolment_sign_in_and_removal);
    async fn two_factor_enrolment_sign_in_and_removal(db: Db) {
        super::two_factor_enrolment_sign_in_and_removal(db).await
    }
}

#[tokio::test]
async fn api_responses_are_not_cacheable() {
    let app = TestApp::spawn(Db::Sqlite).await.unwrap();
    app.register("c@example.org").await;
    let response = app.login("c@example.org", PASSWORD).await;
    assert_eq!(response.headers()["cache-control"], "no-store");
}

/// The `name=value` pairs of a response's `Set-Cookie` headers, with their attributes.
fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

fn cookie_value(cookies: &[String], name: &str) -> String {
    cookies
        .iter()
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .map(|rest| rest.split(';').next().unwrap().to_owned())
        .unwrap()
}

async fn browser_sessions_use_cookies_and_csrf(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    app.register("browser@example.org").await;
    let response = app
        .post_json(
            "/api/v1/auth/web/login",
            &json!({"email": "browser@example.org", "password": PASSWORD}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let cookies = set_cookies(&response);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(
        body.get("access_token").is_none(),
        "tokens must stay out of the page: {body}"
    );
    let csrf = body["csrf_token"].as_str().unwrap().to_owned();
    let access_cookie = cookies
        .iter()
        .find(|c| c.starts_with("jp_access="))
        .unwrap();
    for attribute in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(access_cookie.contains(attribute), "{access_cookie}");
    }
    let refresh_cookie = cookies
        .iter()
        .find(|c| c.starts_with("jp_refresh="))
        .unwrap();
    assert!(
        refresh_cookie.contains("SameSite=Strict")
            && refresh_cookie.contains("Path=/api/v1/auth/web")
    );
    assert_eq!(cookie_value(&cookies, "jp_csrf"), csrf);
    let access = cookie_value(&cookies, "jp_access");
    let refresh = cookie_value(&cookies, "jp_refresh");

    let with_cookie = |method: Method, path: &str, csrf: Option<&str>| {
        let mut request = app
            .client
            .request(method, app.url(path))
            .header("cookie", format!("jp_access={access}"));
        if let Some(csrf) = csrf {
            request = request.header("x-csrf-token", csrf);
        }
        request.send()
    };
    // Reading needs no CSRF token; changing does, and only the right one.
    assert_eq!(
        with_cookie(Method::GET, "/api/v1/me", None)
            .await
            .unwrap()
            .status(),
        200
    );
    assert_error(
        with_cookie(Method::POST, "/api/v1/me/2fa/setup", None)
            .await
            .unwrap(),
        403,
        "csrf_failed",
    )
    .await;
    assert_error(
        with_cookie(Method::POST, "/api/v1/me/2fa/setup", Some("forged"))
            .await
            .unwrap(),
        403,
        "csrf_failed",
    )
    .await;
    assert_eq!(
        with_cookie(Method::POST, "/api/v1/me/2fa/setup", Some(&csrf))
            .await
            .unwrap()
            .status(),
        200
    );

    // The refresh cookie renews the session and rotates; a replayed one ends it.
    let renew = |refresh: String| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/api/v1/auth/web/refresh"))
                .header("cookie", format!("jp_refresh={refresh}"))
                .send()
                .await
                .unwrap()
        }
    };
    let renewed = renew(refresh.clone()).await;
    assert_eq!(renewed.status(), 200);
    let new_cookies = set_cookies(&renewed);
    assert_ne!(cookie_value(&new_cookies, "jp_refresh"), refresh);
    assert_error(renew(refresh).await, 401, "invalid_refresh_token").await;
    assert_error(
        app.client
            .post(app.url("/api/v1/auth/web/refresh"))
            .send()
            .await
            .unwrap(),
        401,
        "invalid_refresh_token",
    )
    .await;

    // Signing out clears the cookies.
    let fresh = app
        .post_json(
            "/api/v1/auth/web/login",
            &json!({"email": "browser@example.org", "password": PASSWORD}),
        )
        .await;
    let cookies = set_cookies(&fresh);
    let csrf = fresh.json::<serde_json::Value>().await.unwrap()["csrf_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .header(
            "cookie",
            format!("jp_access={}", cookie_value(&cookies, "jp_access")),
        )
        .header("x-csrf-token", csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    assert!(
        set_cookies(&out)
            .iter()
            .any(|c| c.starts_with("jp_access=;") && c.contains("Max-Age=0"))
    );
}

mod browser {
    use super::*;
    crate::on_both_databases!(browser_sessions_use_cookies_and_csrf);
    async fn browser_sessions_use_cookies_and_csrf(db: Db) {
        super::browser_sessions_use_cookies_and_csrf(db).await
    }
}
