//! The resume store on both databases: the upload and its parse task commit together, every
//! read and edit is confined to the owner, and the sealed text takes part in key rotation.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use domain::{Email, NewUser, ResumeId, ResumeKind, ResumeStatus, Role, Seniority, UserId};
use store::{NewResume, ParsedResume, SealedColumn, Store, StoreError};
use tasks::{NewTask, TaskDb, admin::ListFilter};

use crate::harness::{Db, TestDb};

struct Fixture {
    store: Arc<dyn Store>,
    tasks: TaskDb,
    _db: TestDb,
}

async fn open(db: Db) -> Option<Fixture> {
    let test_db = TestDb::create(db).await?;
    let dir = tempfile::tempdir().unwrap();
    let config = jobpilot::config::Config::from_sources(
        [
            ("JOBPILOT_DATABASE_URL".to_owned(), test_db.url.clone()),
            (
                "JOBPILOT_DATA_DIR".to_owned(),
                dir.path().display().to_string(),
            ),
        ],
        None,
    )
    .unwrap();
    let database = jobpilot::app::open_database(&config).await.unwrap();
    database.store.migrate().await.unwrap();
    Some(Fixture {
        store: database.store,
        tasks: database.tasks,
        _db: test_db,
    })
}

impl Fixture {
    async fn user(&self, email: &str) -> UserId {
        self.store
            .create_user(NewUser {
                email: Email::parse(email).unwrap(),
                password_hash: None,
                role: Role::Seeker,
            })
            .await
            .unwrap()
            .id
    }

    async fn tasks_of_kind(&self, kind: &str) -> Vec<tasks::Task> {
        let filter = ListFilter {
            kind: Some(kind.to_owned()),
            ..ListFilter::default()
        };
        tasks::admin::list(&self.tasks, &filter, 100)
            .await
            .unwrap()
            .tasks
    }

    /// Uploads a resume for `user` and returns its id.
    async fn upload(&self, user: UserId, file_name: &str, at: DateTime<Utc>) -> ResumeId {
        let resume = new_resume(user, file_name, at);
        self.store
            .create_resume(&resume, parse_task(&resume))
            .await
            .unwrap();
        resume.id
    }
}

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 3, 10, minute, 0).unwrap()
}

fn new_resume(user: UserId, file_name: &str, created_at: DateTime<Utc>) -> NewResume {
    NewResume {
        id: ResumeId::new(),
        user_id: user,
        file_name: file_name.to_owned(),
        kind: ResumeKind::Pdf,
        size_bytes: 12_345,
        sha256: [7; 32],
        file_key: format!("resumes/{file_name}.enc"),
        created_at,
        batch_id: None,
    }
}

fn parse_task(resume: &NewResume) -> NewTask {
    NewTask::new(
        "resume.parse",
        serde_json::json!({ "resume_id": resume.id.to_string() }),
    )
    .with_user(resume.user_id.as_uuid())
}

fn parsed(skills: &[&str], sealed: &[u8]) -> ParsedResume {
    ParsedResume {
        text_sealed: domain::Sealed::from_stored(sealed.to_vec()),
        skills: skills.iter().map(|s| (*s).to_owned()).collect(),
        years_experience: Some(6.5),
        seniority: Some(Seniority::Senior),
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

async fn create_stores_the_resume_and_enqueues_its_parse(db: Db) {
    let Some(fx) = open(db).await else { return };
    let user = fx.user("ada@example.org").await;
    let resume = new_resume(user, "cv", at(0));
    let task_id = fx
        .store
        .create_resume(&resume, parse_task(&resume))
        .await
        .unwrap();

    let task = tasks::admin::get(&fx.tasks, task_id).await.unwrap();
    assert_eq!(task.kind, "resume.parse");
    assert_eq!(task.args["resume_id"], resume.id.to_string());
    assert_eq!(task.user_id, Some(user.as_uuid()));

    let stored = fx.store.resume(user, resume.id).await.unwrap().unwrap();
    assert_eq!(stored.id, resume.id);
    assert_eq!(stored.user_id, user);
    assert_eq!(stored.file_name, "cv");
    assert_eq!(stored.kind, ResumeKind::Pdf);
    assert_eq!(stored.size_bytes, 12_345);
    assert_eq!(stored.sha256, vec![7; 32]);
    assert_eq!(stored.file_key, "resumes/cv.enc");
    assert_eq!(stored.status, ResumeStatus::Pending);
    assert_eq!(stored.error, None);
    assert_eq!(stored.text_sealed, None);
    assert!(stored.skills.is_empty());
    assert!(!stored.skills_edited);
    assert_eq!(stored.years_experience, None);
    assert_eq!(stored.seniority, None);
    assert_eq!(stored.created_at, at(0));
    assert_eq!(stored.updated_at, at(0));
    assert_eq!(stored.parsed_at, None);
    assert_eq!(
        fx.store.resume_unscoped(resume.id).await.unwrap(),
        Some(stored)
    );
}

async fn a_refused_resume_leaves_no_task(db: Db) {
    let Some(fx) = open(db).await else { return };
    let user = fx.user("ada@example.org").await;
    let resume = new_resume(user, "cv", at(0));
    fx.store
        .create_resume(&resume, parse_task(&resume))
        .await
        .unwrap();

    // The same id again: the insert fails, and the task enqueued after it must not survive.
    let mut again = new_resume(user, "other", at(1));
    again.id = resume.id;
    let error = fx
        .store
        .create_resume(
            &again,
            NewTask::new("resume.parse.again", serde_json::json!({})),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::Conflict("resumes.id")),
        "{error:?}"
    );
    assert!(fx.tasks_of_kind("resume.parse.again").await.is_empty());

    // A resume for an account that does not exist breaks the foreign key: no task either.
    let orphan = new_resume(UserId::new(), "orphan", at(2));
    fx.store
        .create_resume(
            &orphan,
            NewTask::new("resume.parse.orphan", serde_json::json!({})),
        )
        .await
        .unwrap_err();
    assert!(fx.tasks_of_kind("resume.parse.orphan").await.is_empty());
    assert_eq!(fx.store.resume_unscoped(orphan.id).await.unwrap(), None);

    // Only the first upload and its task exist.
    assert_eq!(fx.tasks_of_kind("resume.parse").await.len(), 1);
    let stored = fx.store.resumes(user).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].file_name, "cv");
}

async fn another_user_cannot_read_edit_or_delete_a_resume(db: Db) {
    let Some(fx) = open(db).await else { return };
    let owner = fx.user("owner@example.org").await;
    let intruder = fx.user("intruder@example.org").await;
    let id = fx.upload(owner, "cv", at(0)).await;

    assert_eq!(fx.store.resume(intruder, id).await.unwrap(), None);
    assert!(fx.store.resumes(intruder).await.unwrap().is_empty());
    assert!(
        !fx.store
            .set_resume_skills(intruder, id, &strings(&["Hacking"]), at(1))
            .await
            .unwrap()
    );
    assert_eq!(fx.store.delete_resume(intruder, id).await.unwrap(), None);

    // Nothing changed for the owner.
    let stored = fx.store.resume(owner, id).await.unwrap().unwrap();
    assert!(stored.skills.is_empty());
    assert!(!stored.skills_edited);
    assert_eq!(stored.updated_at, at(0));
}

async fn a_finished_parse_records_its_outcome(db: Db) {
    let Some(fx) = open(db).await else { return };
    let user = fx.user("ada@example.org").await;
    let good = fx.upload(user, "good", at(0)).await;
    let bad = fx.upload(user, "bad", at(1)).await;

    let outcome = parsed(&["Rust", "PostgreSQL"], b"sealed text");
    assert!(
        fx.store
            .finish_resume_parse(good, Ok(&outcome), at(5))
            .await
            .unwrap()
    );
    let stored = fx.store.resume(user, good).await.unwrap().unwrap();
    assert_eq!(stored.status, ResumeStatus::Parsed);
    assert_eq!(stored.error, None);
    assert_eq!(stored.text_sealed.as_deref(), Some(&b"sealed text"[..]));
    assert_eq!(stored.skills, strings(&["Rust", "PostgreSQL"]));
    assert!(!stored.skills_edited);
    assert_eq!(stored.years_experience, Some(6.5));
    assert_eq!(stored.seniority, Some(Seniority::Senior));
    assert_eq!(stored.parsed_at, Some(at(5)));
    assert_eq!(stored.updated_at, at(5));
    assert_eq!(stored.created_at, at(0));

    assert!(
        fx.store
            .finish_resume_parse(bad, Err("not a PDF"), at(6))
            .await
            .unwrap()
    );
    let stored = fx.store.resume(user, bad).await.unwrap().unwrap();
    assert_eq!(stored.status, ResumeStatus::Failed);
    assert_eq!(stored.error.as_deref(), Some("not a PDF"));
    assert_eq!(stored.text_sealed, None);
    assert_eq!(stored.parsed_at, Some(at(6)));
    assert_eq!(stored.updated_at, at(6));

    // A parse finishing after its resume was deleted finds nothing to update.
    assert!(
        !fx.store
            .finish_resume_parse(ResumeId::new(), Ok(&outcome), at(7))
            .await
            .unwrap()
    );
    assert!(
        !fx.store
            .finish_resume_parse(ResumeId::new(), Err("gone"), at(7))
            .await
            .unwrap()
    );
}

async fn edited_skills_survive_a_reparse(db: Db) {
    let Some(fx) = open(db).await else { return };
    let user = fx.user("ada@example.org").await;
    let id = fx.upload(user, "cv", at(0)).await;
    fx.store
        .finish_resume_parse(id, Ok(&parsed(&["Rust"], b"v1")), at(1))
        .await
        .unwrap();

    let edited = strings(&["Rust", "Leadership"]);
    assert!(
        fx.store
            .set_resume_skills(user, id, &edited, at(2))
            .await
            .unwrap()
    );
    let stored = fx.store.resume(user, id).await.unwrap().unwrap();
    assert_eq!(stored.skills, edited);
    assert!(stored.skills_edited);
    assert_eq!(stored.updated_at, at(2));

    // The parser runs again: its text and figures are taken, the owner's skills are kept.
    let reparsed = ParsedResume {
        years_experience: Some(8.0),
        seniority: Some(Seniority::Lead),
        ..parsed(&["Go"], b"v2")
    };
    assert!(
        fx.store
            .finish_resume_parse(id, Ok(&reparsed), at(3))
            .await
            .unwrap()
    );
    let stored = fx.store.resume(user, id).await.unwrap().unwrap();
    assert_eq!(stored.skills, edited);
    assert!(stored.skills_edited);
    assert_eq!(stored.text_sealed.as_deref(), Some(&b"v2"[..]));
    assert_eq!(stored.years_experience, Some(8.0));
    assert_eq!(stored.seniority, Some(Seniority::Lead));
    assert_eq!(stored.parsed_at, Some(at(3)));

    // Absent resumes are not edited.
    assert!(
        !fx.store
            .set_resume_skills(user, ResumeId::new(), &edited, at(4))
            .await
            .unwrap()
    );
}

async fn resumes_are_listed_newest_first(db: Db) {
    let Some(fx) = open(db).await else { return };
    let user = fx.user("ada@example.org").await;
    let other = fx.user("grace@example.org").await;
    // Uploaded out of order: the list follows created_at, not insertion.
    let middle = fx.upload(user, "middle", at(10)).await;
    let oldest = fx.upload(user, "oldest", at(5)).await;
    let newest = fx.upload(user, "newest", at(20)).await;
    fx.upload(other, "someone else's", at(30)).await;

    let listed: Vec<ResumeId> = fx
        .store
        .resumes(user)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(listed, vec![newest, middle, oldest]);
    assert_eq!(fx.store.resumes(other).await.unwrap().len(), 1);
}

async fn delete_returns_the_file_key_and_removes_the_row(db: Db) {
    let Some(fx) = open(db).await else { return };
    let user = fx.user("ada@example.org").await;
    let id = fx.upload(user, "cv", at(0)).await;
    let kept = fx.upload(user, "kept", at(1)).await;

    assert_eq!(
        fx.store.delete_resume(user, id).await.unwrap().as_deref(),
        Some("resumes/cv.enc")
    );
    assert_eq!(fx.store.resume(user, id).await.unwrap(), None);
    assert_eq!(fx.store.resume_unscoped(id).await.unwrap(), None);
    assert_eq!(fx.store.delete_resume(user, id).await.unwrap(), None);
    let left: Vec<ResumeId> = fx
        .store
        .resumes(user)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(left, vec![kept]);
}

async fn deleting_the_account_deletes_its_resumes(db: Db) {
    let Some(fx) = open(db).await else { return };
    let user = fx.user("ada@example.org").await;
    let other = fx.user("grace@example.org").await;
    let id = fx.upload(user, "cv", at(0)).await;
    let others = fx.upload(other, "cv", at(0)).await;

    assert!(fx.store.delete_user(user).await.unwrap());
    assert_eq!(fx.store.resume_unscoped(id).await.unwrap(), None);
    assert!(fx.store.resumes(user).await.unwrap().is_empty());
    assert!(fx.store.resume_unscoped(others).await.unwrap().is_some());
}

async fn sealed_resume_text_is_listed_and_replaced(db: Db) {
    let Some(fx) = open(db).await else { return };
    assert!(SealedColumn::ALL.contains(&SealedColumn::ResumeText));
    assert_eq!(SealedColumn::ResumeText.place(), ("resumes", "text_sealed"));
    let user = fx.user("ada@example.org").await;
    let first = fx.upload(user, "first", at(0)).await;
    let second = fx.upload(user, "second", at(1)).await;
    // Never parsed: no sealed text to list.
    fx.upload(user, "pending", at(2)).await;
    for (id, text) in [(first, b"one"), (second, b"two")] {
        fx.store
            .finish_resume_parse(id, Ok(&parsed(&[], text)), at(3))
            .await
            .unwrap();
    }

    let all = fx
        .store
        .sealed_values(SealedColumn::ResumeText, None, 10)
        .await
        .unwrap();
    let rows: Vec<(String, Vec<u8>)> = all.into_iter().map(|v| (v.row, v.sealed)).collect();
    assert_eq!(
        rows,
        vec![
            (first.to_string(), b"one".to_vec()),
            (second.to_string(), b"two".to_vec()),
        ]
    );
    // Pages follow on from the last row.
    let page = fx
        .store
        .sealed_values(SealedColumn::ResumeText, Some(&first.to_string()), 10)
        .await
        .unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].row, second.to_string());

    let row = first.to_string();
    let resealed = domain::Sealed::from_stored(b"resealed".to_vec());
    // A value changed meanwhile is not overwritten.
    assert!(
        !fx.store
            .replace_sealed(SealedColumn::ResumeText, &row, b"stale", &resealed)
            .await
            .unwrap()
    );
    assert!(
        fx.store
            .replace_sealed(SealedColumn::ResumeText, &row, b"one", &resealed)
            .await
            .unwrap()
    );
    let stored = fx.store.resume(user, first).await.unwrap().unwrap();
    assert_eq!(stored.text_sealed.as_deref(), Some(&b"resealed"[..]));
    let stored = fx.store.resume(user, second).await.unwrap().unwrap();
    assert_eq!(stored.text_sealed.as_deref(), Some(&b"two"[..]));
}

crate::on_both_databases!(
    create_stores_the_resume_and_enqueues_its_parse,
    a_refused_resume_leaves_no_task,
    another_user_cannot_read_edit_or_delete_a_resume,
    a_finished_parse_records_its_outcome,
    edited_skills_survive_a_reparse,
    resumes_are_listed_newest_first,
    delete_returns_the_file_key_and_removes_the_row,
    deleting_the_account_deletes_its_resumes,
    sealed_resume_text_is_listed_and_replaced,
);
