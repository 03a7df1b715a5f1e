//! Tenancy: organizations, roles and permissions as SQL sees them through the caller's claims
//! (`auth.can`, `auth.org_ids`, `auth.role_in`), invitations, and the `profiles` mirror.

use bizbase::db::identity::{self, Access, DbRole, Identity};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use super::{PASSWORD, str_of, user_id};
use crate::harness::{TestApp, claims_of, json, latest_mail};

/// A transaction as the holder of these claims (the `authenticated` role).
async fn as_claims(pool: &PgPool, claims: &Value) -> Transaction<'static, Postgres> {
    identity::begin(
        pool,
        &Identity::new(DbRole::Authenticated, claims.clone()),
        Access::ReadWrite,
    )
    .await
    .unwrap()
}

/// The claims of a session's access token.
fn claims(session: &Value) -> Value {
    claims_of(str_of(session, "access_token"))
}

/// The same claims at another assurance level.
fn at(claims: &Value, aal: &str) -> Value {
    let mut c = claims.clone();
    c["aal"] = json!(aal);
    c
}

/// The session after a refresh, whose token lists the user's current orgs.
async fn refreshed(app: &TestApp, session: &Value) -> Value {
    let r = app.refresh(str_of(session, "refresh_token")).await;
    assert_eq!(r.status(), 200);
    json(r).await
}

async fn create_org(pool: &PgPool, claims: &Value, name: &str) -> Uuid {
    let mut tx = as_claims(pool, claims).await;
    let id = sqlx::query_scalar("insert into public.orgs (name) values ($1) returning id")
        .bind(name)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    id
}

async fn can(pool: &PgPool, claims: &Value, org: Uuid, permission: &str) -> bool {
    let mut tx = as_claims(pool, claims).await;
    sqlx::query_scalar("select auth.can($1, $2)")
        .bind(org)
        .bind(permission)
        .fetch_one(&mut *tx)
        .await
        .unwrap()
}

async fn add_member(pool: &PgPool, org: Uuid, user: &str, role: &str) {
    sqlx::query("insert into public.org_members (org_id, user_id, role) values ($1, $2, $3)")
        .bind(org)
        .bind(Uuid::parse_str(user).unwrap())
        .bind(role)
        .execute(pool)
        .await
        .unwrap();
}

/// An org created by a fresh user, and that user's session refreshed to carry it.
async fn org_with_admin(app: &TestApp, email: &str) -> (Uuid, Value) {
    let session = app.signup_confirmed(email, PASSWORD).await;
    let org = create_org(&app.pool, &claims(&session), "Acme").await;
    (org, refreshed(app, &session).await)
}

#[sqlx::test]
async fn creating_an_org_makes_the_creator_its_admin_with_the_preset_permissions(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;

    let org = create_org(&pool, &claims(&session), "Acme").await;

    let members: Vec<(Uuid, String)> =
        sqlx::query_as("select user_id, role from public.org_members where org_id = $1")
            .bind(org)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        members,
        [(
            Uuid::parse_str(&user_id(&session)).unwrap(),
            "admin".to_owned()
        )]
    );
    let (copied, presets): (i64, i64) = sqlx::query_as(
        "select (select count(*) from public.role_permissions where org_id = $1), \
                (select count(*) from private.role_permission_presets)",
    )
    .bind(org)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(presets > 0);
    assert_eq!(copied, presets);
}

#[sqlx::test]
async fn after_a_refresh_the_token_lists_the_org_and_role(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let org = create_org(&pool, &claims(&session), "Acme").await;

    let next = refreshed(&app, &session).await;

    assert_eq!(
        claims(&next)["app_metadata"]["orgs"],
        json!({ org.to_string(): "admin" })
    );
}

#[sqlx::test]
async fn an_org_cannot_be_created_on_behalf_of_someone_else(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let ann = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let bob = app.signup_confirmed("bob@example.com", PASSWORD).await;
    let mut tx = as_claims(&pool, &claims(&ann)).await;

    let forged = sqlx::query("insert into public.orgs (name, created_by) values ('Acme', $1)")
        .bind(Uuid::parse_str(&user_id(&bob)).unwrap())
        .execute(&mut *tx)
        .await;

    let err = forged.unwrap_err();
    assert_eq!(
        err.as_database_error().unwrap().code().as_deref(),
        Some("42501")
    );
}

#[sqlx::test]
async fn an_admin_has_no_permission_at_aal1_and_every_permission_at_aal2(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (org, session) = org_with_admin(&app, "ann@example.com").await;
    let aal1 = claims(&session);

    assert_eq!(aal1["aal"], "aal1");
    assert!(!can(&pool, &aal1, org, "leads.read").await);
    assert!(!can(&pool, &aal1, org, "org.manage").await);
    assert!(can(&pool, &at(&aal1, "aal2"), org, "leads.read").await);
    assert!(can(&pool, &at(&aal1, "aal2"), org, "payments.refund").await);
    assert!(!can(&pool, &at(&aal1, "aal2"), org, "no.such_permission").await);
}

#[sqlx::test]
async fn without_mfa_required_an_admin_still_needs_aal2_for_sensitive_permissions(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (org, session) = org_with_admin(&app, "ann@example.com").await;
    sqlx::query("update public.orgs set require_mfa_roles = '{}' where id = $1")
        .bind(org)
        .execute(&pool)
        .await
        .unwrap();
    let aal1 = claims(&session);

    assert!(can(&pool, &aal1, org, "leads.read").await);
    assert!(!can(&pool, &aal1, org, "members.manage").await);
    assert!(!can(&pool, &aal1, org, "data.export").await);
    assert!(can(&pool, &at(&aal1, "aal2"), org, "members.manage").await);
}

#[sqlx::test]
async fn a_sales_rep_reads_leads_at_aal1_but_not_sensitive_or_unassigned_permissions(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (org, _) = org_with_admin(&app, "ann@example.com").await;
    let bob = app.signup_confirmed("bob@example.com", PASSWORD).await;
    add_member(&pool, org, &user_id(&bob), "sales_rep").await;
    sqlx::query(
        "insert into public.role_permissions (org_id, role, permission) values ($1, 'sales_rep', 'payments.refund')",
    )
    .bind(org)
    .execute(&pool)
    .await
    .unwrap();
    let rep = claims(&refreshed(&app, &bob).await);

    assert_eq!(rep["app_metadata"]["orgs"][org.to_string()], "sales_rep");
    assert!(can(&pool, &rep, org, "leads.read").await);
    assert!(can(&pool, &rep, org, "deals.write").await);
    assert!(!can(&pool, &rep, org, "payments.refund").await, "sensitive");
    assert!(can(&pool, &at(&rep, "aal2"), org, "payments.refund").await);
    assert!(!can(&pool, &rep, org, "members.manage").await);
    assert!(!can(&pool, &at(&rep, "aal2"), org, "members.manage").await);
}

#[sqlx::test]
async fn a_role_in_a_token_grants_nothing_in_another_org(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (acme, ann) = org_with_admin(&app, "ann@example.com").await;
    let (globex, _) = org_with_admin(&app, "bob@example.com").await;
    let mut forged = at(&claims(&ann), "aal2");
    forged["app_metadata"]["orgs"] =
        json!({ acme.to_string(): "admin", globex.to_string(): "viewer" });

    assert!(can(&pool, &forged, acme, "leads.read").await);
    assert!(!can(&pool, &forged, globex, "leads.read").await);
}

#[sqlx::test]
async fn members_see_only_their_own_orgs_and_memberships(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (acme, ann) = org_with_admin(&app, "ann@example.com").await;
    let (globex, bob) = org_with_admin(&app, "bob@example.com").await;
    let carol = app.signup_confirmed("carol@example.com", PASSWORD).await;

    for (session, own) in [(&ann, Some(acme)), (&bob, Some(globex)), (&carol, None)] {
        let mut tx = as_claims(&pool, &claims(session)).await;
        let orgs: Vec<Uuid> = sqlx::query_scalar("select id from public.orgs")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
        let memberships: Vec<Uuid> = sqlx::query_scalar("select org_id from public.org_members")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
        let permissions: Vec<Uuid> =
            sqlx::query_scalar("select distinct org_id from public.role_permissions")
                .fetch_all(&mut *tx)
                .await
                .unwrap();

        let expected: Vec<Uuid> = own.into_iter().collect();
        assert_eq!(orgs, expected);
        assert_eq!(memberships, expected);
        assert_eq!(permissions, expected);
    }
}

/// The token in an `org_invitation` mail.
fn invitation_token(mail: &Value) -> String {
    str_of(mail, "text")
        .split("Accept the invitation with this token: ")
        .nth(1)
        .unwrap()
        .trim()
        .to_owned()
}

/// The orgs a user's token can read.
async fn visible_orgs(pool: &PgPool, claims: &Value) -> Vec<Uuid> {
    let mut tx = as_claims(pool, claims).await;
    sqlx::query_scalar("select id from public.orgs order by name")
        .fetch_all(&mut *tx)
        .await
        .unwrap()
}

/// A creator sees their new org before any token names it (`insert … returning`), and no longer
/// once removed from it. Before, the `created_by` clause kept it visible to them for good.
#[sqlx::test]
async fn a_creator_removed_from_their_org_no_longer_sees_it(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let ann = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let bare = claims(&ann);
    let org = create_org(&pool, &bare, "Acme").await;
    let eve = app.signup_confirmed("eve@example.com", PASSWORD).await;
    add_member(&pool, org, &user_id(&eve), "admin").await;
    assert_eq!(visible_orgs(&pool, &bare).await, [org], "while a member");

    sqlx::query("delete from public.org_members where org_id = $1 and user_id = $2")
        .bind(org)
        .bind(Uuid::parse_str(&user_id(&ann)).unwrap())
        .execute(&pool)
        .await
        .unwrap();

    assert!(visible_orgs(&pool, &bare).await.is_empty());
    let other = create_org(&pool, &bare, "Beta").await;
    assert_eq!(visible_orgs(&pool, &bare).await, [other]);
}

/// A user an admin soft-deletes loses their permissions at once: the access token they still
/// hold (valid until it expires) names the org, but row-level security reads the membership live.
#[sqlx::test]
async fn a_soft_deleted_member_loses_every_permission_at_once(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (org, _) = org_with_admin(&app, "boss@example.com").await;
    let ann = app.signup_confirmed("ann@example.com", PASSWORD).await;
    add_member(&pool, org, &user_id(&ann), "sales_rep").await;
    let ann = claims(&refreshed(&app, &ann).await);
    assert!(can(&pool, &ann, org, "leads.read").await, "while a member");

    let r = app
        .admin(
            Method::DELETE,
            &format!("/admin/users/{}", str_of(&ann, "sub")),
        )
        .json(&json!({ "should_soft_delete": true }))
        .send()
        .await
        .unwrap();

    assert_eq!(r.status(), 200);
    assert!(!can(&pool, &ann, org, "leads.read").await);
}

async fn invite(pool: &PgPool, inviter: &Value, org: Uuid, email: &str, role: &str) {
    let mut tx = as_claims(pool, inviter).await;
    sqlx::query("insert into public.org_invitations (org_id, email, role) values ($1, $2, $3)")
        .bind(org)
        .bind(email)
        .bind(role)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

async fn accept(pool: &PgPool, claims: &Value, token: &str) -> Result<Uuid, sqlx::Error> {
    let mut tx = as_claims(pool, claims).await;
    let org = sqlx::query_scalar("select public.accept_invitation($1)")
        .bind(token)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(org)
}

#[sqlx::test]
async fn an_invitation_mails_a_token_that_the_invited_user_accepts(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (org, ann) = org_with_admin(&app, "ann@example.com").await;
    invite(
        &pool,
        &at(&claims(&ann), "aal2"),
        org,
        "bob@example.com",
        "sales_rep",
    )
    .await;
    let mail = latest_mail(&pool, "bob@example.com", "org_invitation")
        .await
        .expect("an invitation mail");
    let token = invitation_token(&mail);
    let bob = app.signup_confirmed("bob@example.com", PASSWORD).await;

    let joined = accept(&pool, &claims(&bob), &token).await.unwrap();

    assert_eq!(joined, org);
    let role: String = sqlx::query_scalar(
        "select role from public.org_members where org_id = $1 and user_id = $2",
    )
    .bind(org)
    .bind(Uuid::parse_str(&user_id(&bob)).unwrap())
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(role, "sales_rep");
    assert_eq!(
        claims(&refreshed(&app, &bob).await)["app_metadata"]["orgs"],
        json!({ org.to_string(): "sales_rep" })
    );
    assert!(
        accept(&pool, &claims(&bob), &token).await.is_err(),
        "an invitation is accepted once"
    );
    assert!(mail["subject"].as_str().unwrap().contains("Acme"));
}

#[sqlx::test]
async fn an_invitation_cannot_be_accepted_by_someone_else(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (org, ann) = org_with_admin(&app, "ann@example.com").await;
    invite(
        &pool,
        &at(&claims(&ann), "aal2"),
        org,
        "bob@example.com",
        "sales_rep",
    )
    .await;
    let token = invitation_token(
        &latest_mail(&pool, "bob@example.com", "org_invitation")
            .await
            .unwrap(),
    );
    let carol = app.signup_confirmed("carol@example.com", PASSWORD).await;

    let refused = accept(&pool, &claims(&carol), &token).await;

    let err = refused.unwrap_err();
    assert_eq!(
        err.as_database_error().unwrap().code().as_deref(),
        Some("P0001")
    );
    let carols: i64 =
        sqlx::query_scalar("select count(*) from public.org_members where user_id = $1")
            .bind(Uuid::parse_str(&user_id(&carol)).unwrap())
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(carols, 0);
    let bob = app.signup_confirmed("bob@example.com", PASSWORD).await;
    assert_eq!(accept(&pool, &claims(&bob), &token).await.unwrap(), org);
}

/// The invitation is checked against the account as it is now, not the token's claims: not with
/// the token of an ended session, nor for the address the account had when the token was minted.
#[sqlx::test]
async fn an_invitation_needs_a_live_session_and_the_accounts_current_address(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (org, ann) = org_with_admin(&app, "ann@example.com").await;
    let bob = app.signup_confirmed("bob@example.com", PASSWORD).await;
    let carol = app.signup_confirmed("carol@example.com", PASSWORD).await;
    for email in ["bob@example.com", "carol@example.com"] {
        invite(&pool, &at(&claims(&ann), "aal2"), org, email, "sales_rep").await;
    }
    let token_for = |email: &'static str| {
        let pool = pool.clone();
        async move { invitation_token(&latest_mail(&pool, email, "org_invitation").await.unwrap()) }
    };
    let r = app
        .as_user(Method::POST, "/logout", str_of(&bob, "access_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = app
        .admin(Method::PUT, &format!("/admin/users/{}", user_id(&carol)))
        .json(&json!({ "email": "carol@elsewhere.example" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let signed_out = accept(&pool, &claims(&bob), &token_for("bob@example.com").await).await;
    let moved = accept(
        &pool,
        &claims(&carol),
        &token_for("carol@example.com").await,
    )
    .await;

    let code = |r: Result<Uuid, sqlx::Error>| {
        r.unwrap_err()
            .as_database_error()
            .and_then(|e| e.code().map(|c| c.into_owned()))
    };
    assert_eq!(code(signed_out).as_deref(), Some("PT403"));
    assert_eq!(code(moved).as_deref(), Some("P0001"));
    let members: i64 =
        sqlx::query_scalar("select count(*) from public.org_members where org_id = $1")
            .bind(org)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(members, 1, "ann alone");
}

#[sqlx::test]
async fn an_unknown_invitation_token_is_refused(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let bob = app.signup_confirmed("bob@example.com", PASSWORD).await;

    let refused = accept(&pool, &claims(&bob), "no-such-token").await;

    assert!(refused.is_err());
}

#[sqlx::test]
async fn an_admin_at_aal1_cannot_invite(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (org, ann) = org_with_admin(&app, "ann@example.com").await;
    let mut tx = as_claims(&pool, &claims(&ann)).await;

    let refused = sqlx::query(
        "insert into public.org_invitations (org_id, email, role) values ($1, 'bob@example.com', 'sales_rep')",
    )
    .bind(org)
    .execute(&mut *tx)
    .await;

    let err = refused.unwrap_err();
    assert_eq!(
        err.as_database_error().unwrap().code().as_deref(),
        Some("42501")
    );
    drop(tx);
    assert!(
        latest_mail(&pool, "bob@example.com", "org_invitation")
            .await
            .is_none()
    );
}

async fn profile(pool: &PgPool, id: Uuid) -> (Option<String>, Option<String>) {
    sqlx::query_as("select email, full_name from public.profiles where id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test]
async fn profiles_mirror_the_users_email_and_full_name(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), &[("AUTH_AUTOCONFIRM", "true")]).await;
    let session = json(
        app.signup(json!({ "email": "ann@example.com", "password": PASSWORD, "data": { "full_name": "Ann Lee" } }))
            .await,
    )
    .await;
    let id = Uuid::parse_str(&user_id(&session)).unwrap();
    assert_eq!(
        profile(&pool, id).await,
        (Some("ann@example.com".into()), Some("Ann Lee".into()))
    );

    app.as_user(Method::PUT, "/user", str_of(&session, "access_token"))
        .json(&json!({ "data": { "full_name": "Ann Smith" } }))
        .send()
        .await
        .unwrap();

    assert_eq!(
        profile(&pool, id).await,
        (Some("ann@example.com".into()), Some("Ann Smith".into()))
    );
}

#[sqlx::test]
async fn a_user_sees_their_own_profile_and_those_of_fellow_members_only(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (org, ann) = org_with_admin(&app, "ann@example.com").await;
    let bob = app.signup_confirmed("bob@example.com", PASSWORD).await;
    add_member(&pool, org, &user_id(&bob), "sales_rep").await;
    app.signup_confirmed("carol@example.com", PASSWORD).await;
    let dave = app.signup_confirmed("dave@example.com", PASSWORD).await;
    add_member(&pool, org, &user_id(&dave), "customer").await;
    let erin = app.signup_confirmed("erin@example.com", PASSWORD).await;
    add_member(&pool, org, &user_id(&erin), "customer").await;
    let seen_by = |session: Value| {
        let pool = pool.clone();
        async move {
            let mut tx = as_claims(&pool, &session).await;
            let mut profiles: Vec<String> = sqlx::query_scalar("select email from public.profiles")
                .fetch_all(&mut *tx)
                .await
                .unwrap();
            profiles.sort();
            let members: i64 = sqlx::query_scalar("select count(*) from public.org_members")
                .fetch_one(&mut *tx)
                .await
                .unwrap();
            (profiles, members)
        }
    };

    let staff = seen_by(at(&claims(&ann), "aal2")).await;
    let rep = seen_by(claims(&refreshed(&app, &bob).await)).await;
    let customer = seen_by(claims(&refreshed(&app, &dave).await)).await;

    let everyone = [
        "ann@example.com",
        "bob@example.com",
        "dave@example.com",
        "erin@example.com",
    ];
    assert_eq!(staff, (everyone.map(String::from).to_vec(), 4));
    assert_eq!(rep, (everyone.map(String::from).to_vec(), 4));
    // A customer (no `members.read`) sees their own profile and membership, not the other customers'.
    assert_eq!(customer, (vec!["dave@example.com".to_owned()], 1));
}

#[sqlx::test]
async fn a_member_cannot_promote_themselves(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (org, _) = org_with_admin(&app, "ann@example.com").await;
    let bob = app.signup_confirmed("bob@example.com", PASSWORD).await;
    add_member(&pool, org, &user_id(&bob), "sales_rep").await;
    let rep = at(&claims(&refreshed(&app, &bob).await), "aal2");
    let mut tx = as_claims(&pool, &rep).await;

    let updated = sqlx::query("update public.org_members set role = 'admin' where org_id = $1")
        .bind(org)
        .execute(&mut *tx)
        .await
        .unwrap();
    let granted = sqlx::query(
        "insert into public.role_permissions (org_id, role, permission) values ($1, 'sales_rep', 'members.manage')",
    )
    .bind(org)
    .execute(&mut *tx)
    .await;

    assert_eq!(updated.rows_affected(), 0);
    assert_eq!(
        granted
            .unwrap_err()
            .as_database_error()
            .unwrap()
            .code()
            .as_deref(),
        Some("42501")
    );
}

/// Runs one statement as the holder of `claims`, in a transaction of its own that is committed
/// when it succeeds: the rows it touched, or the SQLSTATE that refused it.
async fn run_as(pool: &PgPool, claims: &Value, sql: &str, ids: &[Uuid]) -> Result<u64, String> {
    let mut tx = as_claims(pool, claims).await;
    let query = ids
        .iter()
        .fold(sqlx::query(sqlx::AssertSqlSafe(sql)), |q, id| q.bind(*id));
    match query.execute(&mut *tx).await {
        Ok(done) => {
            tx.commit().await.unwrap();
            Ok(done.rows_affected())
        }
        Err(e) => Err(e.as_database_error().unwrap().code().unwrap().into_owned()),
    }
}

/// Permissions follow the live membership, not the token alone: a removed admin's token (still
/// naming them admin until it expires) cannot put them back, and a demoted one's cannot act as
/// admin. Before, the removed admin re-inserted their membership and demoted whoever removed them.
#[sqlx::test]
async fn a_removed_or_demoted_members_token_keeps_no_permission(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (org, ann) = org_with_admin(&app, "ann@example.com").await;
    let eve = app.signup_confirmed("eve@example.com", PASSWORD).await;
    add_member(&pool, org, &user_id(&eve), "admin").await;
    let eve_admin = at(&claims(&refreshed(&app, &eve).await), "aal2");
    let eve_id = Uuid::parse_str(&user_id(&eve)).unwrap();
    let by_owner = |sql: &'static str| sqlx::query(sql).bind(org).bind(eve_id).execute(&pool);
    assert!(can(&pool, &eve_admin, org, "members.manage").await);

    by_owner("update public.org_members set role = 'sales_rep' where org_id = $1 and user_id = $2")
        .await
        .unwrap();
    let demoted_can = can(&pool, &eve_admin, org, "members.manage").await;
    by_owner("delete from public.org_members where org_id = $1 and user_id = $2")
        .await
        .unwrap();
    let back = run_as(
        &pool,
        &eve_admin,
        "insert into public.org_members (org_id, user_id, role) values ($1, $2, 'admin')",
        &[org, eve_id],
    )
    .await;
    let demoting = run_as(
        &pool,
        &eve_admin,
        "update public.org_members set role = 'customer' where org_id = $1",
        &[org],
    )
    .await;

    assert!(!demoted_can, "demoted");
    assert_eq!(
        back,
        Err("42501".into()),
        "row-level security refuses the insert"
    );
    assert_eq!(demoting, Ok(0));
    assert!(can(&pool, &at(&claims(&ann), "aal2"), org, "members.manage").await);
}

/// Joining takes the member's consent (an accepted invitation): an admin can change roles and
/// remove members, but not add a user, nor hand an existing membership to another user.
#[sqlx::test]
async fn an_admin_cannot_add_a_user_without_an_invitation(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (org, ann) = org_with_admin(&app, "ann@example.com").await;
    let admin = at(&claims(&ann), "aal2");
    let bob = app.signup_confirmed("bob@example.com", PASSWORD).await;
    let carl = Uuid::parse_str(&user_id(
        &app.signup_confirmed("carl@example.com", PASSWORD).await,
    ))
    .unwrap();
    add_member(&pool, org, &user_id(&bob), "sales_rep").await;
    let run = |sql: &'static str, ids: Vec<Uuid>| {
        let (pool, admin) = (pool.clone(), admin.clone());
        async move { run_as(&pool, &admin, sql, &ids).await }
    };

    let added = run(
        "insert into public.org_members (org_id, user_id, role) values ($1, $2, 'customer')",
        vec![org, carl],
    )
    .await;
    let handed = run(
        "update public.org_members set user_id = $2 where org_id = $1 and role = 'sales_rep'",
        vec![org, carl],
    )
    .await;
    let promoted = run(
        "update public.org_members set role = 'marketing_manager' where org_id = $1 and role = 'sales_rep'",
        vec![org],
    )
    .await;
    let removed = run(
        "delete from public.org_members where org_id = $1 and role = 'marketing_manager'",
        vec![org],
    )
    .await;

    assert_eq!(added, Err("42501".into()));
    assert_eq!(handed, Err("42501".into()));
    assert_eq!(promoted, Ok(1));
    assert_eq!(removed, Ok(1));
}

/// An org's id is drawn by the database: a signed-in caller can neither give one (an org named
/// after a user's id matched that user's own folders, see business::subject) nor change it.
#[sqlx::test]
async fn an_org_id_is_drawn_by_the_database(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let ann = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let own_id = Uuid::parse_str(&user_id(&ann)).unwrap();

    let chosen = run_as(
        &pool,
        &claims(&ann),
        "insert into public.orgs (id, name) values ($1, 'Mine')",
        &[own_id],
    )
    .await;
    assert_eq!(chosen, Err("42501".into()));

    let (org, ann) = org_with_admin(&app, "bob@example.com").await;
    let admin = at(&claims(&ann), "aal2");
    let sql = "update public.orgs set id = $1 where id = $2";
    assert_eq!(
        run_as(&pool, &admin, sql, &[own_id, org]).await,
        Err("42501".into())
    );
    let sql = "update public.orgs set name = 'Renamed' where id = $1";
    assert_eq!(run_as(&pool, &admin, sql, &[org]).await, Ok(1));
}
