use super::*;

fn cheap() -> Passwords {
    Passwords::new(Argon2Params {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    })
}

#[test]
fn hashes_other_systems_ship_are_usable_and_costlier_ones_are_not() {
    let shipped = Argon2Params {
        memory_kib: 19_456,
        iterations: 2,
        parallelism: 1,
    };
    let unusable_here = |stored: &str| unusable(stored, &shipped);
    let phc = |m: u32, t: u32, p: u32| {
        format!(
            "$argon2id$v=19$m={m},t={t},p={p}$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA"
        )
    };
    assert_eq!(unusable_here(&phc(102_400, 2, 8)), None, "Django");
    assert_eq!(unusable_here(&phc(65_536, 3, 4)), None, "argon2-cffi");
    assert!(unusable_here(&phc(131_073, 1, 1)).is_some());
    assert!(unusable_here(&phc(19_456, 11, 1)).is_some());
    assert!(unusable_here(&phc(19_456, 2, 17)).is_some());
    assert_eq!(
        unusable_here(&bcrypt::hash("x", 10).unwrap_or_default()),
        None
    );
    let costly = bcrypt::hash("x", 4)
        .unwrap_or_default()
        .replacen("$04$", "$15$", 1);
    assert!(
        unusable_here(&costly).is_some_and(|why| why.contains("cost 15")),
        "{costly}"
    );
    for junk in [
        "",
        "plain",
        "$2garbage",
        "$argon2id$v=19$m=1",
        "$scrypt$ln=16",
    ] {
        assert!(unusable_here(junk).is_some(), "{junk}");
    }
}

#[tokio::test]
async fn hashes_run_one_per_core_and_all_finish() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let p = cheap();
    let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let jobs: Vec<_> = (0..4 * p.cores)
        .map(|i| {
            let (p, running, most) = (p.clone(), running.clone(), most.clone());
            tokio::spawn(async move {
                p.run(move |_| {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    running.fetch_sub(1, Ordering::SeqCst);
                    Ok(i)
                })
                .await
            })
        })
        .collect();
    let mut done = Vec::new();
    for job in jobs {
        done.push(job.await.unwrap().unwrap());
    }
    assert_eq!(done, (0..4 * p.cores).collect::<Vec<_>>());
    assert_eq!(
        most.load(Ordering::SeqCst),
        p.cores,
        "the cores are all used, never more"
    );
}

#[tokio::test]
async fn a_job_that_waited_longer_than_a_request_may_take_is_not_run() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let p = Passwords {
        cores: 1,
        ..cheap()
    }
    .with_max_wait(Duration::from_millis(50));
    let busy = tokio::spawn({
        let p = p.clone();
        async move {
            p.run(|_| {
                std::thread::sleep(Duration::from_millis(200));
                Ok(())
            })
            .await
        }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    let ran = Arc::new(AtomicBool::new(false));
    let late = p
        .run({
            let ran = ran.clone();
            move |_| {
                ran.store(true, Ordering::SeqCst);
                Ok(())
            }
        })
        .await;
    busy.await.unwrap().unwrap();
    assert!(matches!(late, Err(AppError::Unavailable(_))), "{late:?}");
    assert!(
        !ran.load(Ordering::SeqCst),
        "the late job's work is skipped"
    );
    // The queue is empty again: the next job runs.
    assert!(p.hash("correct-horse-42".into()).await.is_ok());
}

#[tokio::test]
async fn a_failing_job_is_an_error_and_the_hashers_go_on() {
    let p = Passwords {
        cores: 1,
        ..cheap()
    };
    let failed = p.run(|_| -> anyhow::Result<()> { panic!("boom") }).await;
    assert!(failed.is_err());
    let hash = p.hash("correct-horse-42".into()).await.unwrap();
    assert_eq!(
        p.verify("correct-horse-42".into(), Some(hash))
            .await
            .unwrap(),
        Verdict::Match
    );
    assert_eq!(
        p.verify("correct-horse-42".into(), None).await.unwrap(),
        Verdict::Mismatch
    );
}

#[test]
fn argon2id_hashes_verify_only_the_right_password_in_reused_working_memory() {
    let p = cheap();
    let hash = p.hash_blocking("correct horse").unwrap();
    assert!(hash.starts_with("$argon2id$"));
    // A hash of another algorithm and a longer output, made by the argon2 crate itself.
    let other = Argon2::new(
        Algorithm::Argon2i,
        Version::V0x13,
        Params::new(64, 1, 1, Some(48)).unwrap(),
    )
    .hash_password(b"other horse")
    .unwrap()
    .to_string();
    // One character of the recorded output changed (not the last, whose low bits are padding).
    let at = hash.len() - 5;
    let flipped = if &hash[at..=at] == "A" { "B" } else { "A" };
    let tampered = format!("{}{flipped}{}", &hash[..at], &hash[at + 1..]);

    for _ in 0..3 {
        assert_eq!(
            p.verify_blocking("correct horse", &hash).unwrap(),
            Verdict::Match
        );
        assert_eq!(
            p.verify_blocking("wrong horse", &hash).unwrap(),
            Verdict::Mismatch
        );
        assert_eq!(
            p.verify_blocking("correct horse", &tampered).unwrap(),
            Verdict::Mismatch
        );
        assert!(matches!(
            p.verify_blocking("other horse", &other).unwrap(),
            Verdict::MatchRehash(_)
        ));
        assert_eq!(
            p.verify_blocking("correct horse", &other).unwrap(),
            Verdict::Mismatch
        );
    }
    assert!(p.memory.lock().unwrap().len() <= p.cores);
}

#[test]
fn bcrypt_hashes_are_accepted_and_upgraded() {
    let p = cheap();
    let legacy = bcrypt::hash("imported-pass", 4).unwrap();

    let Verdict::MatchRehash(new_hash) = p.verify_blocking("imported-pass", &legacy).unwrap()
    else {
        panic!("expected a rehash");
    };
    assert!(new_hash.starts_with("$argon2id$"));
    assert_eq!(
        p.verify_blocking("other", &legacy).unwrap(),
        Verdict::Mismatch
    );
}

#[test]
fn a_cheaper_argon2_hash_is_upgraded_to_the_configured_cost() {
    let weak = cheap().hash_blocking("pw-123456").unwrap();
    let strong = Passwords::new(Argon2Params {
        memory_kib: 128,
        iterations: 2,
        parallelism: 1,
    });

    assert!(matches!(
        strong.verify_blocking("pw-123456", &weak).unwrap(),
        Verdict::MatchRehash(_)
    ));
}

#[test]
fn policy_reports_length_and_character_classes() {
    let required = vec!["upper".to_owned(), "digit".to_owned()];
    assert_eq!(weakness("abc", 8, &[]), ["length"]);
    assert_eq!(weakness("abcdefgh", 8, &required), ["characters"]);
    assert!(weakness("Abcdefg1", 8, &required).is_empty());
}
