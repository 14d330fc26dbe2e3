//! Emergency codes.

use std::collections::HashSet;

use sea_orm::EntityTrait;

use crate::common::World;

const ID: &str = "account:1";

fn is_well_formed(code: &str) -> bool {
    let groups: Vec<_> = code.split('-').collect();
    groups.len() == 4
        && groups.iter().all(|g| {
            g.len() == 4
                && g.bytes().all(|b| {
                    (b.is_ascii_lowercase() || b.is_ascii_digit()) && !b"01ilo".contains(&b)
                })
        })
}

#[tokio::test]
async fn ten_codes_each_single_use() {
    let w = World::new().await;
    let codes = w.mfa.recovery_generate(ID).await.unwrap();
    assert_eq!(codes.len(), 10);
    assert!(codes.iter().all(|c| is_well_formed(c)), "{codes:?}");
    assert_eq!(codes.iter().collect::<HashSet<_>>().len(), 10);
    assert_eq!(w.mfa.recovery_remaining(ID).await.unwrap(), 10);

    assert!(w.mfa.recovery_consume(ID, &codes[0]).await.unwrap());
    assert!(!w.mfa.recovery_consume(ID, &codes[0]).await.unwrap());
    assert_eq!(w.mfa.recovery_remaining(ID).await.unwrap(), 9);

    // Case, spaces and dashes do not matter.
    let shouted = codes[1].to_uppercase().replace('-', " ");
    assert!(w.mfa.recovery_consume(ID, &shouted).await.unwrap());
    let bare = codes[2].replace('-', "");
    assert!(w.mfa.recovery_consume(ID, &bare).await.unwrap());
    assert_eq!(w.mfa.recovery_remaining(ID).await.unwrap(), 7);

    assert!(!w.mfa.recovery_consume(ID, "").await.unwrap());
    assert!(
        !w.mfa
            .recovery_consume(ID, "abcd-efgh-jkmn-pqrs")
            .await
            .unwrap()
    );
    assert_eq!(w.mfa.recovery_remaining(ID).await.unwrap(), 7);
}

#[tokio::test]
async fn only_hashes_are_stored() {
    let w = World::new().await;
    let codes = w.mfa.recovery_generate(ID).await.unwrap();
    let rows = mfa::entity::recovery_code::Entity::find()
        .all(&w.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 10);
    for row in rows {
        assert_eq!(row.code_hash.len(), 64);
        for c in &codes {
            assert!(!row.code_hash.contains(&c.replace('-', "")));
        }
    }
}

#[tokio::test]
async fn regenerating_voids_the_old_set() {
    let w = World::new().await;
    let old = w.mfa.recovery_generate(ID).await.unwrap();
    assert!(w.mfa.recovery_consume(ID, &old[0]).await.unwrap());
    let new = w.mfa.recovery_generate(ID).await.unwrap();
    assert_eq!(w.mfa.recovery_remaining(ID).await.unwrap(), 10);
    assert!(!w.mfa.recovery_consume(ID, &old[1]).await.unwrap());
    assert!(w.mfa.recovery_consume(ID, &new[1]).await.unwrap());
}

#[tokio::test]
async fn parallel_uses_of_one_code_pass_once() {
    let w = World::new().await;
    let codes = w.mfa.recovery_generate(ID).await.unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let mfa = w.mfa.clone();
            let code = codes[3].clone();
            tokio::spawn(async move { mfa.recovery_consume(ID, &code).await.unwrap() })
        })
        .collect();
    let mut passed = 0;
    for t in tasks {
        passed += usize::from(t.await.unwrap());
    }
    assert_eq!(passed, 1);
}

#[tokio::test]
async fn delete_removes_every_code() {
    let w = World::new().await;
    let codes = w.mfa.recovery_generate(ID).await.unwrap();
    w.mfa.recovery_delete(ID).await.unwrap();
    assert_eq!(w.mfa.recovery_remaining(ID).await.unwrap(), 0);
    assert!(!w.mfa.recovery_consume(ID, &codes[0]).await.unwrap());
}
