//! Backups inside `serve`: at each time of `BIZBASE_BACKUP_SCHEDULE` (cron, UTC) take an archive,
//! prune the directory to the retention (`keep_daily` days, `keep_weekly` ISO weeks), and run the
//! restore drill. Outcomes are metrics on `/metrics`:
//! `backup_last_success_timestamp_seconds`, `backup_last_size_bytes`, `backup_failures_total`,
//! `backup_verify_passed` (1 or 0) and `backup_verify_timestamp_seconds`.

use std::{collections::BTreeSet, time::Duration};

use chrono::{DateTime, Datelike, NaiveDateTime, Utc};

use super::{create::create_on, destination::Destination, dump::Connection, verify::verify_on};
use crate::{config::Config, jobs::task::Task};

/// When an archive was taken, from its name (`bizbase-20261126T030000.123Z.backup`).
pub fn taken_at(name: &str) -> Option<DateTime<Utc>> {
    let stamp = name.strip_prefix("bizbase-")?.strip_suffix(".backup")?;
    NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%S%.3fZ")
        .ok()
        .map(|t| t.and_utc())
}

/// The archives retention removes: all but the newest of each of the `daily` most recent days and
/// of each of the `weekly` most recent ISO weeks (the newest archive always stays). `archives` are
/// names, oldest first, as [`Destination::list`] gives them; names that carry no time are never
/// removed.
pub fn expired(archives: &[String], daily: usize, weekly: usize) -> Vec<String> {
    let mut keep = BTreeSet::new();
    let mut days = Vec::new();
    let mut weeks = Vec::new();
    for path in archives.iter().rev() {
        let Some(at) = taken_at(path) else {
            keep.insert(path.clone());
            continue;
        };
        if keep.is_empty() {
            keep.insert(path.clone());
        }
        let day = at.date_naive();
        if !days.contains(&day) {
            days.push(day);
            if days.len() <= daily {
                keep.insert(path.clone());
            }
        }
        let week = (at.iso_week().year(), at.iso_week().week());
        if !weeks.contains(&week) {
            weeks.push(week);
            if weeks.len() <= weekly {
                keep.insert(path.clone());
            }
        }
    }
    archives
        .iter()
        .filter(|p| !keep.contains(*p))
        .cloned()
        .collect()
}

/// Deletes the archives of the backup destination that retention no longer keeps, returning where
/// they were.
pub async fn prune(config: &Config) -> anyhow::Result<Vec<String>> {
    let destination = Destination::of(&config.backup)?;
    let found = destination.list().await?;
    let gone = expired(&found, config.backup.keep_daily, config.backup.keep_weekly);
    let mut removed = Vec::with_capacity(gone.len());
    for name in &gone {
        destination.remove(name).await?;
        removed.push(destination.describe(name));
    }
    Ok(removed)
}

/// One scheduled round: backup, retention, drill.
pub async fn round(config: &Config, conn: &Connection) -> anyhow::Result<()> {
    let created = create_on(config, conn).await?;
    metrics::gauge!("backup_last_success_timestamp_seconds").set(Utc::now().timestamp() as f64);
    metrics::gauge!("backup_last_size_bytes").set(created.size as f64);
    tracing::info!(archive = %created.location, bytes = created.size, "backup written");
    for gone in prune(config).await? {
        tracing::info!(archive = %gone, "backup removed by retention");
    }
    if config.backup.verify {
        let report = verify_on(config, conn).await?;
        metrics::gauge!("backup_verify_passed").set(if report.passed() { 1.0 } else { 0.0 });
        metrics::gauge!("backup_verify_timestamp_seconds").set(Utc::now().timestamp() as f64);
        if report.passed() {
            tracing::info!(
                tables = report.tables,
                objects = report.objects,
                "restore drill passed"
            );
        } else {
            tracing::error!(mismatches = ?report.mismatches, "restore drill FAILED");
        }
    }
    Ok(())
}

/// Starts taking backups at the configured times (an idle task when no schedule is configured).
pub fn scheduler(config: Config, conn: Connection) -> Task {
    let Some(cron) = config.backup.schedule.clone() else {
        return Task::idle();
    };
    Task::spawn(|mut stopped| async move {
        loop {
            let now = Utc::now();
            let Ok(next) = cron.find_next_occurrence(&now, false) else {
                tracing::warn!("BIZBASE_BACKUP_SCHEDULE never fires again; scheduled backups stop");
                return;
            };
            let wait = (next - now).to_std().unwrap_or(Duration::ZERO);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stopped.changed() => return,
            }
            if let Err(e) = round(&config, &conn).await {
                metrics::counter!("backup_failures_total").increment(1);
                tracing::error!(error = %format!("{e:#}"), "scheduled backup failed");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(stamp: &str) -> String {
        format!("bizbase-{stamp}.backup")
    }

    #[test]
    fn archive_names_carry_their_time() {
        let t = taken_at(&at("20261126T030000.123Z")).unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-26T03:00:00.123+00:00");
        assert_eq!(taken_at("other.backup"), None);
    }

    #[test]
    fn retention_keeps_the_newest_per_day_and_per_week() {
        // Two a day for 21 days (2026-11-01 is a Sunday: ISO week 44 ends there).
        let mut all = Vec::new();
        for day in 1..=21 {
            for hour in ["03", "15"] {
                all.push(at(&format!("202611{day:02}T{hour}0000.000Z")));
            }
        }
        let gone = expired(&all, 3, 2);
        let kept: Vec<String> = all
            .iter()
            .filter(|p| !gone.contains(p))
            .map(|p| p[8..23].to_owned())
            .collect();
        // The newest (15:00) of days 19, 20 and 21, and of ISO weeks 47 (16–21: day 21, already
        // kept) and 46 (9–15: day 15).
        assert_eq!(
            kept,
            [
                "20261115T150000",
                "20261119T150000",
                "20261120T150000",
                "20261121T150000"
            ]
        );
        assert_eq!(gone.len(), all.len() - 4);
    }

    #[test]
    fn the_newest_archive_stays_even_with_no_retention() {
        let all = vec![at("20261101T030000.000Z"), at("20261102T030000.000Z")];
        assert_eq!(expired(&all, 0, 0), vec![all[0].clone()]);
        assert!(expired(&[], 3, 3).is_empty());
    }
}
