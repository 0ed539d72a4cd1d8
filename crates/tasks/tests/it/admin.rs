//! What an operator can do: look up, list, retry, cancel, discard, count.

use std::time::Duration;

use serde_json::{Value, json};
use tasks::{
    Error, FailureKind, Handlers, NewTask, Outcome, Queue, TaskContext, TaskError, TaskId,
    TaskState, Worker,
    admin::{self, ListFilter, StateCount},
};

use crate::{
    harness::{Db, TestDb, fast_config, wait_for_state},
    on_both_databases,
};

async fn tasks_are_listed_newest_first_page_by_page(kind: Db) {
    let Some(test) = TestDb::create(kind).await else {
        return;
    };
    let queue = Queue::new(test.db.clone());
    let user = uuid::Uuid::now_v7();
    let mut ids = Vec::new();
    for i in 0..5 {
        let mut task = NewTask::new("email.send", json!({ "i": i }));
        if i % 2 == 0 {
            task = task.with_user(user);
        }
        ids.push(queue.enqueue(task).await.unwrap());
    }
    queue
        .enqueue(NewTask::new("other", json!({})).with_queue("mail"))
        .await
        .unwrap();

    let filter = ListFilter {
        kind: Some("email.send".into()),
        ..Default::default()
    };
    let first = admin::list(&test.db, &filter, 2).await.unwrap();
    assert_eq!(
        first.tasks.iter().map(|t| t.id).collect::<Vec<_>>(),
        [ids[4], ids[3]]
    );
    let second = admin::list(
        &test.db,
        &ListFilter {
            before: first.next,
            ..filter.clone()
        },
        2,
    )
    .await
    .unwrap();
    assert_eq!(
        second.tasks.iter().map(|t| t.id).collect::<Vec<_>>(),
        [ids[2], ids[1]]
    );
    let last = admin::list(
        &test.db,
        &ListFilter {
            before: second.next,
            ..filter.clone()
        },
        2,
    )
    .await
    .unwrap();
    assert_eq!(
        last.tasks.iter().map(|t| t.id).collect::<Vec<_>>(),
        [ids[0]]
    );
    assert_eq!(last.next, None);

    let mine = admin::list(
        &test.db,
        &ListFilter {
            user_id: Some(user),
            ..Default::default()
        },
        100,
    )
    .await
    .unwrap();
    assert_eq!(mine.tasks.len(), 3);
    let mail = admin::list(
        &test.db,
        &ListFilter {
            queue: Some("mail".into()),
            state: Some(TaskState::Available),
            ..Default::default()
        },
        100,
    )
    .await
    .unwrap();
    assert_eq!(mail.tasks.len(), 1);

    assert_eq!(
        admin::stats(&test.db).await.unwrap(),
        [
            StateCount {
                queue: "default".into(),
                state: TaskState::Available,
                count: 5
            },
            StateCount {
                queue: "mail".into(),
                state: TaskState::Available,
                count: 1
            },
        ]
    );
    assert_eq!(admin::record_gauges(&test.db).await.unwrap().len(), 2);
    let missing = TaskId::new();
    assert!(matches!(
        admin::get(&test.db, missing).await,
        Err(Error::NotFound(id)) if id == missing
    ));
}

async fn an_operator_retries_cancels_and_discards(kind: Db) {
    let Some(test) = TestDb::create(kind).await else {
        return;
    };
    let mut handlers = Handlers::new();
    handlers.add_fn(
        "fails",
        Duration::from_secs(60),
        |ctx: TaskContext, _: Value| async move {
            if ctx.max_attempts > 1 {
                // The operator's retry granted one more attempt: now it works.
                return Ok(Outcome::Complete);
            }
            Err(TaskError::retry("smtp unreachable"))
        },
    );
    let worker = Worker::new(test.db.clone(), handlers, fast_config()).start();
    let queue = Queue::new(test.db.clone());
    let id = queue
        .enqueue(NewTask::new("fails", json!({})).with_max_attempts(1))
        .await
        .unwrap();
    wait_for_state(&test.db, id, TaskState::Discarded).await;

    // A discarded task can be retried, with one more attempt.
    admin::retry(&test.db, id).await.unwrap();
    let task = wait_for_state(&test.db, id, TaskState::Completed).await;
    assert_eq!(task.attempt, 2);
    assert_eq!(task.max_attempts, 2);
    assert_eq!(task.errors.len(), 1);
    // A completed one cannot.
    assert!(matches!(
        admin::retry(&test.db, id).await,
        Err(Error::WrongState {
            state: TaskState::Completed,
            ..
        })
    ));
    worker.shutdown().await.unwrap();

    let waiting = queue
        .enqueue(NewTask::new("fails", json!({})).with_delay(Duration::from_secs(3600)))
        .await
        .unwrap();
    admin::cancel(&test.db, waiting).await.unwrap();
    let task = admin::get(&test.db, waiting).await.unwrap();
    assert_eq!(task.state, TaskState::Cancelled);
    assert_eq!(task.errors[0].kind, FailureKind::Cancelled);
    assert!(task.finished_at.is_some());
    assert!(matches!(
        admin::cancel(&test.db, waiting).await,
        Err(Error::WrongState {
            state: TaskState::Cancelled,
            ..
        })
    ));

    let other = queue.enqueue(NewTask::new("x", json!({}))).await.unwrap();
    admin::discard(&test.db, other).await.unwrap();
    let task = admin::get(&test.db, other).await.unwrap();
    assert_eq!(task.state, TaskState::Discarded);
    assert_eq!(task.errors[0].kind, FailureKind::Discarded);
    assert!(matches!(
        admin::discard(&test.db, TaskId::new()).await,
        Err(Error::NotFound(_))
    ));
}

on_both_databases!(
    tasks_are_listed_newest_first_page_by_page,
    an_operator_retries_cancels_and_discards,
);
