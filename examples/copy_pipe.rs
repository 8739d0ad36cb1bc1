//! The benchmark's baseline (bench/run.sh): the plainest fast copy between two PostgreSQL
//! databases. Each of `--jobs` workers keeps one connection to each side and, table after table,
//! forwards the bytes of `COPY … TO STDOUT (FORMAT binary)` into `COPY … FROM STDIN (FORMAT
//! binary)` as they arrive, without looking at them; each table in one transaction with
//! `synchronous_commit = off`, as the tool does.
//!
//!   copy_pipe SOURCE_URL TARGET_URL JOBS < pipes.tsv
//!
//! Each input line is `source_table<TAB>target_table<TAB>column list` (the list already quoted).

use std::io::BufRead;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use futures::{SinkExt, StreamExt, pin_mut};
use tokio_postgres::NoTls;

#[tokio::main]
async fn main() -> Result<()> {
    let arguments: Vec<String> = std::env::args().collect();
    let [_, source_url, target_url, jobs] = arguments.as_slice() else {
        anyhow::bail!("usage: copy_pipe SOURCE_URL TARGET_URL JOBS < pipes.tsv");
    };
    let jobs: usize = jobs.parse().context("JOBS must be a number")?;
    let mut pipes = Vec::new();
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let mut fields = line.splitn(3, '\t');
        match (fields.next(), fields.next(), fields.next()) {
            (Some(source), Some(target), Some(columns)) => {
                pipes.push((source.to_string(), target.to_string(), columns.to_string()))
            }
            _ => anyhow::bail!("a line of the input is not source<TAB>target<TAB>columns: {line}"),
        }
    }
    // Largest tables first would need sizes; the order given is kept, workers take the next one.
    pipes.reverse();
    let queue = Arc::new(Mutex::new(pipes));
    let mut workers = Vec::new();
    for _ in 0..jobs.max(1) {
        let queue = Arc::clone(&queue);
        let (source_url, target_url) = (source_url.clone(), target_url.clone());
        workers.push(tokio::spawn(async move {
            let (source, connection) = tokio_postgres::connect(&source_url, NoTls).await?;
            tokio::spawn(connection);
            let (mut target, connection) = tokio_postgres::connect(&target_url, NoTls).await?;
            tokio::spawn(connection);
            loop {
                let next = queue.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.pop();
                let Some((source_table, target_table, columns)) = next else {
                    return anyhow::Ok(());
                };
                let transaction = target.transaction().await?;
                transaction
                    .batch_execute("SET LOCAL synchronous_commit = off")
                    .await?;
                let sink = transaction
                    .copy_in::<_, bytes::Bytes>(
                        format!(
                            "COPY public.{} ({columns}) FROM STDIN (FORMAT binary)",
                            quote(&target_table)
                        )
                        .as_str(),
                    )
                    .await?;
                pin_mut!(sink);
                let stream = source
                    .copy_out(
                        format!(
                            "COPY public.{} ({columns}) TO STDOUT (FORMAT binary)",
                            quote(&source_table)
                        )
                        .as_str(),
                    )
                    .await?;
                pin_mut!(stream);
                while let Some(chunk) = stream.next().await {
                    sink.feed(chunk?).await?;
                }
                sink.finish()
                    .await
                    .with_context(|| format!("{source_table} → {target_table}"))?;
                transaction.commit().await?;
            }
        }));
    }
    for worker in workers {
        worker.await??;
    }
    Ok(())
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
