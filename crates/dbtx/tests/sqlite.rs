//! Parallel read-then-write transactions on one SQLite file, as the
//! embedded default runs them: a pool of connections, WAL.

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, Statement};

async fn counter_db() -> DatabaseConnection {
    let dir = std::env::temp_dir().join(format!(
        "guichet-dbtx-{}-{:?}",
        std::process::id(),
        std::time::SystemTime::now()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.join("db.sqlite").display());
    let mut opts = ConnectOptions::new(url);
    opts.max_connections(8).sqlx_logging(false);
    let db = Database::connect(opts).await.expect("SQLite");
    for sql in [
        "PRAGMA journal_mode=WAL",
        "CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)",
        "INSERT INTO counter (id, n) VALUES (1, 0)",
    ] {
        db.execute_unprepared(sql).await.expect(sql);
    }
    db
}

async fn value(db: &impl ConnectionTrait) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT n FROM counter WHERE id = 1",
        ))
        .await
        .expect("read")
        .expect("row");
    row.try_get_by_index(0).expect("n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_100_parallel_read_then_write_transactions_all_100_commit() {
    let db = counter_db().await;
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move {
                let txn = dbtx::write(&db).await?;
                let n = value(&txn).await;
                tokio::task::yield_now().await;
                txn.execute_unprepared(&format!("UPDATE counter SET n = {} WHERE id = 1", n + 1))
                    .await?;
                txn.commit().await
            })
        })
        .collect();
    let mut committed = 0;
    for t in tasks {
        match t.await.expect("task") {
            Ok(()) => committed += 1,
            Err(e) => panic!("a transaction failed: {e}"),
        }
    }
    assert_eq!(committed, 100);
    // No lost update: each read saw the previous commit.
    assert_eq!(value(&db).await, 100);
}
