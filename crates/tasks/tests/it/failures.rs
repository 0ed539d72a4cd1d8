//! What happens when a handler fails, snoozes, cancels, panics, hangs or gets bad arguments.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use tasks::{
    FailureKind, Handlers, NewTask, Outcome, Queue, TaskContext, TaskError, TaskState, Worker,
};

use crate::{
    harness::{Db, TestDb, fast_config, record_run, runs, wait_for_state},
    on_both_databases,
};

const LONG: Duration = Duration::from_secs(60);

async fn a_failing_task_is_retried_with_backoff_then_discarded_with_its_history(kind: Db) {
    let Some(test) = TestDb::create(kind).await else {
        return;
    };
    let mut handlers = Handlers::new();
    handlers.add_fn("flaky", LONG, |ctx: TaskContext, _: Value| async move {
        record_run(&ctx.db, "flaky").await?;
        Err::<Outcome, _>(TaskError::retry(format!(
            "upstream said no (attempt {})",
            ctx.attempt
        )))
    });
    // Fails twice, then works.
    handlers.add_fn("recovers", LONG, |ctx: TaskContext, _: Value| async move {
        if ctx.attempt < 3 {
            return Err(TaskError::retry("not yet"));
        }
        Ok(Outcome::Complete)
    });
    let worker = Worker::new(test.db.clone(), handlers, fast_config()).start();
    let queue = Queue::new(test.db.clone());
    let doomed = queue
        .enqueue(NewTask::new("flaky", json!({})))
        .await
        .unwrap();
    let recovers = queue
        .enqueue(NewTask::new("recovers", json!({})))
        .await
        .unwrap();

    let task = wait_for_state(&test.db, doomed, TaskState::Discarded).await;
    assert_eq!(task.attempt, 3);
    assert_eq!(
        runs(&test.db, Some("flaky")).await,
        3,
        "ran max_attempts times"
    );
    assert!(task.finished_at.is_some());
    let messages: Vec<&str> = task.errors.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "upstream said no (attempt 1)",
            "upstream said no (attempt 2)",
            "upstream said no (attempt 3)"
        ]
    );
    assert_eq!(
        task.errors.iter().map(|e| e.attempt).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert!(task.errors.iter().all(|e| e.kind == FailureKind::Error));
    // Backoff: base 50 ms, doubled, with at most 20 % jitter off; handlers are instant.
    let gap = |a: usize, b: usize| (task.errors[b].at - task.errors[a].at).num_milliseconds();
    assert!(gap(0, 1) >= 40, "first backoff {} ms", gap(0, 1));
    assert!(gap(1, 2) >= 80, "second backoff {} ms", gap(1, 2));

    let task = wait_for_state(&test.db, recovers, TaskState::Completed).await;
    assert_eq!(task.attempt, 3);
    assert_eq!(task.errors.len(), 2, "earlier failures stay in the history");
    worker.shutdown().await.unwrap();
}

async fn a_handler_can_snooze_and_cancel(kind: Db) {
    let Some(test) = TestDb::create(kind).await else {
        return;
    };
    let mut handlers = Handlers::new();
    handlers.add_fn("snoozer", LONG, |ctx: TaskContext, _: Value| async move {
        let key = format!("snoozer:{}", ctx.id);
        record_run(&ctx.db, &key).await?;
        if runs(&ctx.db, Some(&key)).await == 1 {
            return Ok(Outcome::Snooze(Duration::from_millis(200)));
        }
        Ok(Outcome::Complete)
    });
    handlers.add_fn("quitter", LONG, |ctx: TaskContext, _: Value| async move {
        record_run(&ctx.db, "quitter").await?;
        Ok(Outcome::Cancel("the job posting was withdrawn".into()))
    });
    let worker = Worker::new(test.db.clone(), handlers, fast_config()).start();
    let queue = Queue::new(test.db.clone());
    let snoozer = queue
        .enqueue(NewTask::new("snoozer", json!({})))
        .await
        .unwrap();
    let quitter = queue
        .enqueue(NewTask::new("quitter", json!({})))
        .await
        .unwrap();

    let task = wait_for_state(&test.db, snoozer, TaskState::Completed).await;
    assert_eq!(runs(&test.db, Some(&format!("snoozer:{snoozer}"))).await, 2);
    assert_eq!(task.attempt, 1, "the snooze did not use up an attempt");
    assert!(task.errors.is_empty());
    let waited = task.finished_at.unwrap() - task.inserted_at;
    assert!(
        waited.num_milliseconds() >= 200,
        "ran again only after the snooze: {waited}"
    );

    let task = wait_for_state(&test.db, quitter, TaskState::Cancelled).await;
    assert_eq!(runs(&test.db, Some("quitter")).await, 1);
    assert_eq!(task.errors.len(), 1);
    assert_eq!(task.errors[0].kind, FailureKind::Cancelled);
    assert_eq!(task.errors[0].message, "the job posting was withdrawn");
    assert!(task.finished_at.is_some());
    worker.shutdown().await.unwrap();
}

async fn a_panicking_handler_is_retried_and_the_worker_lives(kind: Db) {
    let Some(test) = TestDb::create(kind).await else {
        return;
    };
    let mut handlers = Handlers::new();
    handlers.add_fn(
        "panics once",
        LONG,
        |ctx: TaskContext, _: Value| async move {
            if ctx.attempt == 1 {
                panic!("index out of bounds in a parser");
            }
            Ok(Outcome::Complete)
        },
    );
    handlers.add_fn("noop", LONG, |_: TaskContext, _: Value| async move {
        Ok(Outcome::Complete)
    });
    let mut config = fast_config();
    config.queues = vec![tasks::QueueConfig::new(tasks::DEFAULT_QUEUE, 1)];
    let worker = Worker::new(test.db.clone(), handlers, config).start();
    let queue = Queue::new(test.db.clone());
    let id = queue
        .enqueue(NewTask::new("panics once", json!({})))
        .await
        .unwrap();
    let task = wait_for_state(&test.db, id, TaskState::Completed).await;
    assert_eq!(task.attempt, 2);
    assert_eq!(task.errors.len(), 1);
    assert_eq!(task.errors[0].kind, FailureKind::Panic);
    assert!(
        task.errors[0]
            .message
            .contains("index out of bounds in a parser"),
        "{:?}",
        task.errors[0]
    );
    // The single slot was given back: the worker still runs tasks.
    let next = queue
        .enqueue(NewTask::new("noop", json!({})))
        .await
        .unwrap();
    wait_for_state(&test.db, next, TaskState::Completed).await;
    worker.shutdown().await.unwrap();
}

async fn a_hung_handler_is_timed_out_and_retried(kind: Db) {
    let Some(test) = TestDb::create(kind).await else {
        return;
    };
    let mut handlers = Handlers::new();
    handlers.add_fn(
        "hangs once",
        Duration::from_millis(150),
        |ctx: TaskContext, _: Value| async move {
            if ctx.attempt == 1 {
                std::future::pending::<()>().await;
            }
            Ok(Outcome::Complete)
        },
    );
    let worker = Worker::new(test.db.clone(), handlers, fast_config()).start();
    let id = Queue::new(test.db.clone())
        .enqueue(NewTask::new("hangs once", json!({})))
        .await
        .unwrap();
    let task = wait_for_state(&test.db, id, TaskState::Completed).await;
    assert_eq!(task.attempt, 2);
    assert_eq!(task.errors.len(), 1);
    assert_eq!(task.errors[0].kind, FailureKind::Timeout);
    assert!(
        task.errors[0].message.contains("timeout"),
        "{:?}",
        task.errors
    );
    worker.shutdown().await.unwrap();
}

#[derive(Debug, Deserialize)]
struct ParseResume {
    resume_id: u64,
}

async fn malformed_args_discard_the_task_at_once_and_others_run(kind: Db) {
    let Some(test) = TestDb::create(kind).await else {
        return;
    };
    let mut handlers = Handlers::new();
    handlers.add_fn(
        "resume.parse",
        LONG,
        |ctx: TaskContext, args: ParseResume| async move {
            record_run(&ctx.db, &format!("resume:{}", args.resume_id)).await?;
            Ok(Outcome::Complete)
        },
    );
    let worker = Worker::new(test.db.clone(), handlers, fast_config()).start();
    let queue = Queue::new(test.db.clone());
    let ids = queue
        .enqueue_many(&[
            NewTask::new("resume.parse", json!({"resume_id": "not a number"})),
            NewTask::new("resume.parse", json!({"resume_id": 7})),
            NewTask::new("resume.parse", json!({})),
        ])
        .await
        .unwrap();

    for bad in [ids[0], ids[2]] {
        let task = wait_for_state(&test.db, bad, TaskState::Discarded).await;
        assert_eq!(task.attempt, 1, "no retry can fix bad arguments");
        assert_eq!(task.errors.len(), 1);
        assert_eq!(task.errors[0].kind, FailureKind::MalformedArgs);
        assert!(
            task.errors[0]
                .message
                .starts_with("malformed arguments for task kind \"resume.parse\""),
            "{}",
            task.errors[0].message
        );
        assert!(task.errors[0].message.contains("resume_id"));
    }
    wait_for_state(&test.db, ids[1], TaskState::Completed).await;
    assert_eq!(runs(&test.db, None).await, 1);
    worker.shutdown().await.unwrap();
}

async fn a_handler_can_discard_for_good(kind: Db) {
    let Some(test) = TestDb::create(kind).await else {
        return;
    };
    let mut handlers = Handlers::new();
    handlers.add_fn("hopeless", LONG, |_: TaskContext, _: Value| async move {
        Err::<Outcome, _>(TaskError::discard("the account was deleted"))
    });
    let worker = Worker::new(test.db.clone(), handlers, fast_config()).start();
    let id = Queue::new(test.db.clone())
        .enqueue(NewTask::new("hopeless", json!({})).with_max_attempts(10))
        .await
        .unwrap();
    let task = wait_for_state(&test.db, id, TaskState::Discarded).await;
    assert_eq!(task.attempt, 1);
    assert_eq!(task.errors[0].message, "the account was deleted");
    worker.shutdown().await.unwrap();
}

async fn a_kind_declares_its_default_attempts_and_an_explicit_choice_wins(kind: Db) {
    let Some(test) = TestDb::create(kind).await else {
        return;
    };
    let mut handlers = Handlers::new();
    handlers
        .add_fn("stubborn", LONG, |ctx: TaskContext, _: Value| async move {
            record_run(&ctx.db, &format!("stubborn:{}", ctx.max_attempts)).await?;
            Err::<Outcome, _>(TaskError::retry("still no"))
        })
        .set_max_attempts("stubborn", 5);
    handlers.add_fn("plain", LONG, |_: TaskContext, _: Value| async move {
        Err::<Outcome, _>(TaskError::retry("no"))
    });
    let worker = Worker::new(test.db.clone(), handlers, fast_config()).start();
    let queue = Queue::new(test.db.clone());
    let by_kind = queue
        .enqueue(NewTask::new("stubborn", json!({})))
        .await
        .unwrap();
    let explicit = queue
        .enqueue(NewTask::new("stubborn", json!({})).with_max_attempts(2))
        .await
        .unwrap();
    let undeclared = queue
        .enqueue(NewTask::new("plain", json!({})))
        .await
        .unwrap();

    let task = wait_for_state(&test.db, by_kind, TaskState::Discarded).await;
    assert_eq!((task.attempt, task.max_attempts), (5, 5));
    assert_eq!(task.errors.len(), 5);
    assert_eq!(
        runs(&test.db, Some("stubborn:5")).await,
        5,
        "the handler saw the kind's attempts"
    );
    let task = wait_for_state(&test.db, explicit, TaskState::Discarded).await;
    assert_eq!((task.attempt, task.max_attempts), (2, 2));
    assert_eq!(runs(&test.db, Some("stubborn:2")).await, 2);
    let task = wait_for_state(&test.db, undeclared, TaskState::Discarded).await;
    assert_eq!(
        (task.attempt, task.max_attempts),
        (tasks::DEFAULT_MAX_ATTEMPTS, tasks::DEFAULT_MAX_ATTEMPTS)
    );

    // An operator's retry of a task that used its kind's attempts gives it one more.
    tasks::admin::retry(&test.db, by_kind).await.unwrap();
    let task = wait_for_state(&test.db, by_kind, TaskState::Discarded).await;
    assert_eq!((task.attempt, task.max_attempts), (6, 6));
    worker.shutdown().await.unwrap();
}

on_both_databases!(
    a_kind_declares_its_default_attempts_and_an_explicit_choice_wins,
    a_failing_task_is_retried_with_backoff_then_discarded_with_its_history,
    a_handler_can_snooze_and_cancel,
    a_panicking_handler_is_retried_and_the_worker_lives,
    a_hung_handler_is_timed_out_and_retried,
    malformed_args_discard_the_task_at_once_and_others_run,
    a_handler_can_discard_for_good,
);
