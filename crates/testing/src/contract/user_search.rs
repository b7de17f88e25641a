//! The administrators' account search: text, status, order and paging.

use std::time::Duration;

use portcullis_domain::model::{AccountStatus, Page, User, UserName, UserQuery, UserStatusFilter};
use portcullis_domain::ports::{Change, Store};

use super::{T0, commit_ok};
use crate::fixtures::user;

/// Inserts users created one second apart, in the given order, with the given names.
async fn insert_named<S: Store>(store: &S, people: &[(&str, &str)]) -> Vec<User> {
    let users: Vec<User> = people
        .iter()
        .enumerate()
        .map(|(i, (address, name))| User {
            name: UserName::parse(name).expect("name"),
            ..user(address, T0.plus(Duration::from_secs(i as u64)))
        })
        .collect();
    commit_ok(store, users.iter().cloned().map(Change::InsertUser).collect()).await;
    users
}

/// The emails of the first hundred matches of `text` and `status`, and the total.
async fn search<S: Store>(store: &S, text: Option<&str>, status: Option<UserStatusFilter>) -> (Vec<String>, u64) {
    let query = UserQuery { text: text.map(str::to_owned), status, limit: 100, offset: 0 };
    let page = store.search_users(query).await.expect("search_users");
    (emails(&page), page.total_count)
}

fn emails(page: &Page<User>) -> Vec<String> {
    page.items.iter().map(|u| u.email.as_str().to_owned()).collect()
}

/// The text matches any part of the email, whatever the case of the query.
pub async fn search_users_matches_email_substring<S: Store>(store: &S) {
    insert_named(store, &[("laura@example.com", "L"), ("ana@sample.org", "A"), ("bob@example.com", "B")]).await;
    let both = ["laura@example.com", "bob@example.com"].map(String::from).to_vec();
    assert_eq!(search(store, Some("EXAMPLE.c"), None).await, (both, 2));
    assert_eq!(search(store, Some("a@s"), None).await, (vec!["ana@sample.org".to_owned()], 1));
    assert_eq!(search(store, Some("example.org"), None).await, (Vec::new(), 0));
}

/// The text matches any part of the name, case-insensitively on both sides.
pub async fn search_users_matches_name_case_insensitively<S: Store>(store: &S) {
    let people = [("u1@example.com", "Laura Palmer"), ("u2@example.com", "Dale Cooper"), ("u3@example.com", "PALMER")];
    insert_named(store, &people).await;
    let palmers = ["u1@example.com", "u3@example.com"].map(String::from).to_vec();
    assert_eq!(search(store, Some("palm"), None).await, (palmers, 2));
    assert_eq!(search(store, Some("a PaLm"), None).await, (vec!["u1@example.com".to_owned()], 1));
    assert_eq!(search(store, Some("cooper"), None).await, (vec!["u2@example.com".to_owned()], 1));
}

/// Case folding covers letters beyond ASCII, in the name and in the query.
pub async fn search_users_folds_non_ascii_case<S: Store>(store: &S) {
    insert_named(store, &[("u1@example.com", "Élodie Ärger"), ("u2@example.com", "elodie arger")]).await;
    let first = (vec!["u1@example.com".to_owned()], 1);
    assert_eq!(search(store, Some("élodie"), None).await, first);
    assert_eq!(search(store, Some("ÄRGER"), None).await, first);
}

/// `%`, `_` and `\` in the text match themselves only, in names and in emails.
pub async fn search_users_takes_wildcards_literally<S: Store>(store: &S) {
    let people = [
        ("u1@example.com", "100% sure"),
        ("u2@example.com", "1000 sure"),
        ("a_b@example.com", "First"),
        ("axb@example.com", "Second"),
        ("u5@example.com", r"back\slash"),
        ("u6@example.com", "backslash"),
    ];
    insert_named(store, &people).await;
    assert_eq!(search(store, Some("0%"), None).await, (vec!["u1@example.com".to_owned()], 1));
    assert_eq!(search(store, Some("a_b"), None).await, (vec!["a_b@example.com".to_owned()], 1));
    assert_eq!(search(store, Some(r"k\s"), None).await, (vec!["u5@example.com".to_owned()], 1));
    assert_eq!(search(store, Some("%"), None).await, (vec!["u1@example.com".to_owned()], 1));
}

/// A status selects accounts with it that are not deleted; `Deleted` selects deleted ones
/// whatever their status; no filter selects every account.
pub async fn search_users_filters_by_status<S: Store>(store: &S) {
    let gone = T0.plus(Duration::from_secs(60));
    let users = [
        user("active@example.com", T0),
        User { status: AccountStatus::Suspended, ..user("suspended@example.com", T0.plus(Duration::from_secs(1))) },
        User { status: AccountStatus::Deactivated, ..user("deactivated@example.com", T0.plus(Duration::from_secs(2))) },
        User { deleted_at: Some(gone), ..user("deleted@example.com", T0.plus(Duration::from_secs(3))) },
        User {
            status: AccountStatus::Suspended,
            deleted_at: Some(gone),
            ..user("deleted-suspended@example.com", T0.plus(Duration::from_secs(4)))
        },
    ];
    commit_ok(store, users.iter().cloned().map(Change::InsertUser).collect()).await;
    let only = |email: &str| (vec![email.to_owned()], 1);
    let status = |s| Some(UserStatusFilter::Status(s));
    assert_eq!(search(store, None, status(AccountStatus::Active)).await, only("active@example.com"));
    assert_eq!(search(store, None, status(AccountStatus::Suspended)).await, only("suspended@example.com"));
    assert_eq!(search(store, None, status(AccountStatus::Deactivated)).await, only("deactivated@example.com"));
    let deleted = ["deleted@example.com", "deleted-suspended@example.com"].map(String::from).to_vec();
    assert_eq!(search(store, None, Some(UserStatusFilter::Deleted)).await, (deleted, 2));
    assert_eq!(search(store, None, None).await.1, 5);
    assert_eq!(search(store, Some("suspended"), status(AccountStatus::Suspended)).await, only("suspended@example.com"));
}

/// Oldest first, ties by id; `limit` and `offset` cut the page; `total_count` counts every
/// match, past the end too.
pub async fn search_users_pages_oldest_first_with_total<S: Store>(store: &S) {
    let t = |s: u64| T0.plus(Duration::from_secs(s));
    // Inserted out of order, with a tie at t(5).
    let users = [
        user("u1@example.com", t(9)),
        user("u2@example.com", t(5)),
        user("u3@example.com", t(1)),
        user("u4@example.com", t(5)),
        user("u5@example.com", t(7)),
        user("u6@example.com", t(3)),
        user("other@sample.org", t(0)),
    ];
    commit_ok(store, users.iter().cloned().map(Change::InsertUser).collect()).await;
    let mut expected: Vec<&User> = users[..6].iter().collect();
    expected.sort_by_key(|u| (u.created_at, u.id));
    let expected: Vec<String> = expected.iter().map(|u| u.email.as_str().to_owned()).collect();

    let mut seen = Vec::new();
    for offset in [0u64, 4] {
        let query = UserQuery { text: Some("@example.".to_owned()), status: None, limit: 4, offset };
        let page = store.search_users(query).await.expect("search_users");
        assert_eq!(page.total_count, 6);
        seen.extend(emails(&page));
    }
    assert_eq!(seen, expected);
    let past_end = UserQuery { text: Some("@example.".to_owned()), status: None, limit: 4, offset: 50 };
    let page = store.search_users(past_end).await.expect("search_users");
    assert_eq!((page.items.len(), page.total_count), (0, 6));
}
