//! Cron, priorities, queues and pruning.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use serde_json::{Value, json};
use tasks::{
    Handlers, NewTask, Outcome, Queue, QueueConfig, TaskContext, TaskDb, TaskError, TaskState,
    Worker, admin, cron::Schedule, maintenance,
};

use crate::{
    harness::{
        Db, TestDb, connect, fast_config, record_run, run_counts, wait_for_state, wait_until,
    },
    on_both_databases,
};

const LONG: Duration = Duration::from_secs(60);

async fn cron_fire_count(db: &TaskDb) -> i64 {
    match db {
        TaskDb::Sqlite(pool) => sqlx::query_scalar("SELECT count(*) FROM task_cron_fires")
            .fetch_one(pool)
            .await
            .unwrap(),
        TaskDb::Postgres(pool) => sqlx::query_scalar("SELECT count(*) FROM task_cron_fires")
            .fetch_one(pool)
            .await
            .unwrap(),
    }
}

async fn each_cron_fire_happens_once_with_two_workers(kind: Db) {
    let Some(test) = TestDb::create(kind).await else {
        return;
    };
    let schedule = Schedule::new(
        "every-second",
        "* * * * * *",
        NewTask::new("tick", json!({"source": "hh"})),
    )
    .unwrap();
    let mut workers = Vec::new();
    for db in [test.db.clone(), connect(&test.url).await] {
        let mut handlers = Handlers::new();
        handlers.add_fn("tick", LONG, |ctx: TaskContext, args: Value| async move {
            assert_eq!(args, json!({"source": "hh"}));
            record_run(&ctx.db, &ctx.id.to_string()).await?;
            Ok(Outcome::Complete)
        });
        let mut config = fast_config();
        config.cron_interval = Duration::from_millis(20);
        config.schedules = vec![schedule.clone()];
        workers.push(Worker::new(db, handlers, config).start());
    }
    wait_until(Duration::from_secs(6), "three seconds fired", || async {
        cron_fire_count(&test.db).await >= 3
    })
    .await;
    for worker in workers {
        worker.shutdown().await.unwrap();
    }
    let fires = cron_fire_count(&test.db).await;
    let ticks = admin::list(
        &test.db,
        &admin::ListFilter {
            kind: Some("tick".into()),
            ..Default::default()
        },
        100,
    )
    .await
    .unwrap()
    .tasks;
    assert_eq!(ticks.len() as i64, fires, "one task per fire");
    let (runs, distinct, _) = run_counts(&test.db).await;
    assert_eq!(distinct, runs, "no task ran twice");
    assert!(runs >= fires - 1, "the fires ran ({runs} of {fires})");
}

async fn higher_priority_runs_first_and_queues_are_separate(kind: Db) {
    let Some(test) = TestDb::create(kind).await else {
        return;
    };
    let queue = Queue::new(test.db.clone());
    for (name, priority) in [("low", -1), ("normal", 0), ("urgent", 10), ("normal2", 0)] {
        queue
            .enqueue(NewTask::new("ordered", json!({ "name": name })).with_priority(priority))
            .await
            .unwrap();
    }
    let elsewhere = queue
        .enqueue(NewTask::new("ordered", json!({"name": "mail"})).with_queue("mail"))
        .await
        .unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let seen = order.clone();
    let mut handlers = Handlers::new();
    handlers.add_fn("ordered", LONG, move |_: TaskContext, args: Value| {
        let seen = seen.clone();
        async move {
            let name = args["name"].as_str().unwrap_or_default().to_owned();
            seen.lock()
                .map_err(|_| TaskError::retry("poisoned"))?
                .push(name);
            Ok(Outcome::Complete)
        }
    });
    let mut config = fast_config();
    config.queues = vec![QueueConfig::new(tasks::DEFAULT_QUEUE, 1)];
    config.max_batch = 1;
    let worker = Worker::new(test.db.clone(), handlers, config).start();
    wait_until(
        Duration::from_secs(5),
        "the default queue is done",
        || async { order.lock().unwrap().len() == 4 },
    )
    .await;
    worker.shutdown().await.unwrap();
    assert_eq!(
        *order.lock().unwrap(),
        ["urgent", "normal", "normal2", "low"]
    );
    let mail = admin::get(&test.db, elsewhere).await.unwrap();
    assert_eq!(
        mail.state,
        TaskState::Available,
        "a queue the worker does not serve is left alone"
    );
}

async fn tasks_of_unknown_kinds_wait_for_a_worker_that_knows_them(kind: Db) {
    let Some(test) = TestDb::create(kind).await else {
        return;
    };
    let queue = Queue::new(test.db.clone());
    let future_kind = queue
        .enqueue(NewTask::new("added.in.next.release", json!({})))
        .await
        .unwrap();
    let known = queue
        .enqueue(NewTask::new("noop", json!({})))
        .await
        .unwrap();
    let mut handlers = Handlers::new();
    handlers.add_fn("noop", LONG, |_: TaskContext, _: Value| async move {
        Ok(Outcome::Complete)
    });
    let worker = Worker::new(test.db.clone(), handlers, fast_config()).start();
    wait_for_state(&test.db, known, TaskState::Completed).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    worker.shutdown().await.unwrap();
    let task = admin::get(&test.db, future_kind).await.unwrap();
    assert_eq!(task.state, TaskState::Available);
    assert_eq!(task.attempt, 0);
}

async fn finished_tasks_are_pruned_after_the_retention(kind: Db) {
    let Some(test) = TestDb::create(kind).await else {
        return;
    };
    let queue = Queue::new(test.db.clone());
    let done = queue
        .enqueue(NewTask::new("noop", json!({})))
        .await
        .unwrap();
    let dead = queue
        .enqueue(NewTask::new("dead", json!({})))
        .await
        .unwrap();
    let cancelled = queue
        .enqueue(NewTask::new("other", json!({})))
        .await
        .unwrap();
    let waiting = queue
        .enqueue(NewTask::new("other", json!({})))
        .await
        .unwrap();
    let later = queue
        .enqueue(NewTask::new("other", json!({})).with_delay(Duration::from_secs(3600)))
        .await
        .unwrap();
    let mut handlers = Handlers::new();
    handlers.add_fn("noop", LONG, |_: TaskContext, _: Value| async move {
        Ok(Outcome::Complete)
    });
    handlers.add_fn("dead", LONG, |_: TaskContext, _: Value| async move {
        Err::<Outcome, _>(TaskError::discard("no"))
    });
    let worker = Worker::new(test.db.clone(), handlers, fast_config()).start();
    wait_for_state(&test.db, done, TaskState::Completed).await;
    wait_for_state(&test.db, dead, TaskState::Discarded).await;
    worker.shutdown().await.unwrap();
    admin::cancel(&test.db, cancelled).await.unwrap();

    assert_eq!(
        maintenance::prune(&test.db, Duration::from_secs(3600))
            .await
            .unwrap(),
        0,
        "nothing is old enough yet"
    );
    tokio::time::sleep(Duration::from_millis(30)).await;
    assert_eq!(
        maintenance::prune(&test.db, Duration::from_millis(10))
            .await
            .unwrap(),
        3
    );
    for gone in [done, dead, cancelled] {
        assert!(matches!(
            admin::get(&test.db, gone).await,
            Err(tasks::Error::NotFound(_))
        ));
    }
    for kept in [waiting, later] {
        admin::get(&test.db, kept).await.unwrap();
    }
}

on_both_databases!(
    each_cron_fire_happens_once_with_two_workers,
    higher_priority_runs_first_and_queues_are_separate,
    tasks_of_unknown_kinds_wait_for_a_worker_that_knows_them,
    finished_tasks_are_pruned_after_the_retention,
);
