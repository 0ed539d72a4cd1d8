//! The operator's task dashboard in the web UI: in a real headless Chromium (sign in, queue
//! lengths, a failed task's errors, retry, cancel with its confirmation, filters, sign out, a
//! seeker refused), and over plain HTTP for what a browser would never send (forged forms,
//! foreign redirects).

use std::time::Duration;

use reqwest::{StatusCode, header};
use serde_json::json;
use tasks::{TaskId, TaskState, admin};
use test_support::browser::Browser;

use crate::harness::{Db, PASSWORD, TestApp};

/// What the failing task reports: markup that must reach the page as text.
const HOSTILE_ERROR: &str = "<script>window.pwned=1</script> the board said <b>no</b>";

async fn app() -> TestApp {
    TestApp::builder(Db::Sqlite)
        // Plain HTTP in tests.
        .env("JOBPILOT_COOKIE_SECURE", "false")
        .spawn()
        .await
        .unwrap()
}

async fn enqueue(app: &TestApp, kind: &str) -> TaskId {
    tasks::Queue::new(app.state.tasks().clone())
        .enqueue(tasks::NewTask::new(
            kind,
            json!({"note": "<img src=x onerror=alert(1)>"}),
        ))
        .await
        .unwrap()
}

/// A task whose only attempt fails with [`HOSTILE_ERROR`]; returns once it is discarded.
async fn failed_task(app: &TestApp) -> TaskId {
    let mut handlers = tasks::Handlers::new();
    handlers.add_fn(
        "ui.fails",
        Duration::from_secs(10),
        |_: tasks::TaskContext, _: serde_json::Value| async {
            Err::<tasks::Outcome, _>(tasks::TaskError::discard(HOSTILE_ERROR))
        },
    );
    let config = tasks::WorkerConfig {
        poll_interval: Duration::from_millis(50),
        shutdown_grace: Duration::from_secs(1),
        ..tasks::WorkerConfig::default()
    };
    let worker = tasks::Worker::new(app.state.tasks().clone(), handlers, config).start();
    let id = enqueue(app, "ui.fails").await;
    for _ in 0..200 {
        if admin::get(app.state.tasks(), id).await.unwrap().state == TaskState::Discarded {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    worker.shutdown().await.unwrap();
    assert_eq!(
        admin::get(app.state.tasks(), id).await.unwrap().state,
        TaskState::Discarded
    );
    id
}

async fn sign_in(browser: &Browser, email: &str, password: &str) {
    browser.fill("#sign-in input[name=email]", email).await;
    browser
        .fill("#sign-in input[name=password]", password)
        .await;
    browser.click("#sign-in button[type=submit]").await;
}

#[tokio::test]
async fn an_operator_steers_the_queue_from_the_dashboard_in_a_browser() {
    crate::harness::init();
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = app().await;
    app.user("admin@example.org", domain::Role::Admin).await;
    app.user("seeker@example.org", domain::Role::Seeker).await;
    let failed = failed_task(&app).await;
    let waiting = enqueue(&app, "ui.waits").await;
    enqueue(&app, "ui.waits").await;

    // Not signed in: the sign-in page, which then returns to the dashboard.
    browser
        .goto(&app.url("/ui/admin/tasks?state=discarded"))
        .await;
    let url = browser.wait_for_url(|u| u.contains("/ui/login")).await;
    assert!(
        url.contains("next=%2Fui%2Fadmin%2Ftasks%3Fstate%3Ddiscarded"),
        "{url}"
    );
    sign_in(&browser, "admin@example.org", "not the password").await;
    let refused = browser.text("#login-error").await;
    assert!(refused.contains("password"), "{refused}");
    sign_in(&browser, "admin@example.org", PASSWORD).await;
    browser
        .wait_for_url(|u| u.ends_with("/ui/admin/tasks?state=discarded"))
        .await;

    // The failed task, its error shown as text: the markup neither ran nor became elements.
    let row = format!("tr[data-task='{}']", failed.0);
    assert_eq!(
        browser.find_all("#tasks tbody tr[data-task]").await.len(),
        1
    );
    assert_eq!(
        browser.text(&format!("{row} .last-error")).await,
        HOSTILE_ERROR
    );
    assert_eq!(
        browser
            .run_script("return [window.pwned === undefined, document.querySelectorAll('#tasks b, #tasks script').length]")
            .await,
        json!([true, 0])
    );

    // Queue lengths by state; each count links to its tasks.
    browser.goto(&app.url("/ui/admin/tasks")).await;
    let cell = |state: &str| format!("#queues tr[data-queue='default'] td[data-state='{state}']");
    assert_eq!(browser.text(&cell("discarded")).await, "1");
    assert_eq!(browser.text(&cell("available")).await, "2");
    assert_eq!(browser.text(&cell("completed")).await, "0");
    assert_eq!(
        browser.find_all("#tasks tbody tr[data-task]").await.len(),
        3
    );
    browser.click(&format!("{} a", cell("available"))).await;
    browser
        .wait_for_url(|u| u.contains("state=available"))
        .await;
    assert_eq!(
        browser.find_all("#tasks tbody tr[data-task]").await.len(),
        2
    );

    // The task's page: its error history and arguments, escaped; retry runs it again.
    browser
        .goto(&app.url(&format!("/ui/admin/tasks/{}", failed.0)))
        .await;
    assert_eq!(browser.text("#state").await, "discarded");
    assert_eq!(browser.text("#errors td.message").await, HOSTILE_ERROR);
    assert!(
        browser
            .text("#args")
            .await
            .contains("<img src=x onerror=alert(1)>")
    );
    assert!(browser.find_all("#args img").await.is_empty());
    browser.click("form[action$='/retry'] button").await;
    browser.wait_for_url(|u| u.contains("done=retry")).await;
    assert_eq!(browser.text("#state").await, "available");
    assert!(browser.text("p.notice").await.contains("run again"));
    let task = admin::get(app.state.tasks(), failed).await.unwrap();
    assert_eq!(task.state, TaskState::Available);

    // Cancel asks first; dismissing nothing happens until OK is pressed.
    browser
        .goto(&app.url("/ui/admin/tasks?kind=ui.waits"))
        .await;
    browser
        .click(&format!(
            "tr[data-task='{}'] form[action$='/cancel'] button",
            waiting.0
        ))
        .await;
    assert_eq!(
        browser.dialog_text().await.as_deref(),
        Some("cancel this task?")
    );
    browser.accept_dialog().await;
    browser.wait_for_url(|u| u.contains("done=cancel")).await;
    assert!(
        browser.url().await.contains("kind=ui.waits"),
        "back to the same filter"
    );
    assert_eq!(
        admin::get(app.state.tasks(), waiting).await.unwrap().state,
        TaskState::Cancelled
    );
    assert_eq!(
        browser
            .text(&format!("tr[data-task='{}'] .state", waiting.0))
            .await,
        "cancelled"
    );

    // Signing out ends the session: the dashboard asks to sign in again.
    browser.click("form.signout button").await;
    browser.wait_for_url(|u| u.ends_with("/ui/login")).await;
    browser.goto(&app.url("/ui/admin/tasks")).await;
    browser
        .wait_for_url(|u| u.contains("/ui/login?next="))
        .await;

    // A seeker signs in but is not shown the queue.
    sign_in(&browser, "seeker@example.org", PASSWORD).await;
    browser.wait_for_url(|u| !u.contains("/ui/login")).await;
    assert_eq!(browser.text("h1").await, "Not allowed");
    assert!(browser.find_all("#tasks").await.is_empty());

    let audit = app.store.recent_audit(100).await.unwrap();
    let actions: Vec<_> = audit.iter().map(|e| e.action.as_str()).collect();
    assert!(actions.contains(&"admin.task_retry"), "{actions:?}");
    assert!(actions.contains(&"admin.task_cancel"), "{actions:?}");
    browser.quit().await;
}

/// The `Set-Cookie` values of a response, as `name=value` pairs for a `Cookie` header.
fn cookies_of(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .map(str::to_owned)
        .collect()
}

fn form_token(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).unwrap() + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

#[tokio::test]
async fn dashboard_forms_refuse_forgeries_and_foreign_redirects() {
    let app = app().await;
    app.user("admin@example.org", domain::Role::Admin).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let waiting = enqueue(&app, "ui.waits").await;

    // The sign-in page: HTML under the strict policy, with a form token in a strict cookie.
    let page = client.get(app.url("/ui/login")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(
        page.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let form_cookie = cookies_of(&page).join("; ");
    assert!(form_cookie.starts_with("jp_ui_form="), "{form_cookie}");
    let token = form_token(&page.text().await.unwrap());

    // Without the cookie (another site's form), or with another token: refused, no session.
    let sign_in = |cookie: Option<String>, token: String, next: &str| {
        let mut request = client.post(app.url("/ui/login")).form(&[
            ("csrf", token.as_str()),
            ("email", "admin@example.org"),
            ("password", PASSWORD),
            ("next", next),
        ]);
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        request.send()
    };
    for (cookie, token) in [
        (None, token.clone()),
        (Some(form_cookie.clone()), "x".repeat(43)),
    ] {
        let refused = sign_in(cookie, token, "/ui/admin/tasks").await.unwrap();
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert!(
            cookies_of(&refused)
                .iter()
                .all(|c| !c.starts_with("jp_access="))
        );
        let body = refused.text().await.unwrap();
        assert!(
            body.contains("<h1>Not allowed</h1>"),
            "an HTML page, not the API's JSON: {body}"
        );
    }

    // A `next` outside the UI is not followed.
    for next in ["https://evil.example/", "//evil.example/ui/", "/api/v1/me"] {
        let signed_in = sign_in(Some(form_cookie.clone()), token.clone(), next)
            .await
            .unwrap();
        assert_eq!(signed_in.status(), StatusCode::SEE_OTHER, "{next}");
        assert_eq!(
            signed_in.headers()[header::LOCATION],
            "/ui/admin/tasks",
            "{next}"
        );
    }
    let signed_in = sign_in(Some(form_cookie), token, "/ui/admin/tasks")
        .await
        .unwrap();
    let session = cookies_of(&signed_in)
        .into_iter()
        .filter(|c| c.starts_with("jp_access=") || c.starts_with("jp_csrf="))
        .collect::<Vec<_>>()
        .join("; ");

    // A task action with a missing or wrong session token changes nothing.
    let act = |csrf: &str| {
        client
            .post(app.url(&format!("/ui/admin/tasks/{}/cancel", waiting.0)))
            .header(header::COOKIE, &session)
            .form(&[("csrf", csrf), ("back", "/ui/admin/tasks")])
            .send()
    };
    for forged in ["", "not-the-token"] {
        let refused = act(forged).await.unwrap();
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    }
    assert_eq!(
        admin::get(app.state.tasks(), waiting).await.unwrap().state,
        TaskState::Available
    );

    // The genuine form works; a second cancel is refused with the reason, as a page.
    let dashboard = client
        .get(app.url("/ui/admin/tasks"))
        .header(header::COOKIE, &session)
        .send()
        .await
        .unwrap();
    assert_eq!(dashboard.status(), StatusCode::OK);
    let csrf = form_token(&dashboard.text().await.unwrap());
    let done = act(&csrf).await.unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        done.headers()[header::LOCATION],
        "/ui/admin/tasks?done=cancel"
    );
    let again = act(&csrf).await.unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert!(
        again
            .text()
            .await
            .unwrap()
            .contains("cancelled, which does not allow this")
    );

    // Unknown actions, task ids and filters get pages that say so.
    for (path, status) in [
        (
            format!("/ui/admin/tasks/{}", uuid::Uuid::new_v4()),
            StatusCode::NOT_FOUND,
        ),
        (
            "/ui/admin/tasks/not-a-task".to_owned(),
            StatusCode::NOT_FOUND,
        ),
        (
            "/ui/admin/tasks?state=sleeping".to_owned(),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("/ui/admin/tasks?queue={}", "q".repeat(201)),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let response = client
            .get(app.url(&path))
            .header(header::COOKIE, &session)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{path}");
        assert!(
            response.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
    }
    let unknown = client
        .post(app.url(&format!("/ui/admin/tasks/{}/explode", waiting.0)))
        .header(header::COOKIE, &session)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}
