//! Invoice numbers: assigned by the database per org (`INV-00001`, …) without duplicates under
//! concurrent inserts; an imported `INV-<n>` moves the counter past n; other numbers are kept.

use reqwest::Method;
use serde_json::{Value, json};

use super::{World, assert_refused, call, service::futures_join};

fn number(body: &Value) -> String {
    body[0]["number"].as_str().unwrap_or_default().to_owned()
}

#[sqlx::test]
async fn invoices_are_numbered_per_org_and_imported_numbers_move_the_counter(pool: sqlx::PgPool) {
    let w = World::build(pool).await;
    let customer = w.id("billing_customer_own");
    let insert = |body: Value| {
        call(
            w.returning(Method::POST, "/invoices", w.token("admin"))
                .json(&body),
        )
    };

    // The fixture imported INV-1 in each org: the first number the database gives is INV-00002.
    let (status, first) =
        insert(json!({"org_id": w.a, "customer_id": customer, "amount_due": 5})).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(number(&first), "INV-00002");

    let parallel = (0..12).map(|_| {
        call(
            w.returning(Method::POST, "/invoices", w.token("admin"))
                .json(&json!({"org_id": w.a, "customer_id": customer, "amount_due": 1})),
        )
    });
    let mut numbers: Vec<String> = futures_join(parallel)
        .await
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, 201, "{body}");
            number(body)
        })
        .collect();
    numbers.sort();
    let expected: Vec<String> = (3..15).map(|n| format!("INV-{n:05}")).collect();
    assert_eq!(numbers, expected);

    let (_, imported) = insert(
        json!({"org_id": w.a, "customer_id": customer, "amount_due": 1, "number": "INV-00040"}),
    )
    .await;
    assert_eq!(number(&imported), "INV-00040");
    let (_, foreign) = insert(
        json!({"org_id": w.a, "customer_id": customer, "amount_due": 1, "number": "in_1PxStripe"}),
    )
    .await;
    assert_eq!(number(&foreign), "in_1PxStripe");
    let (_, next) = insert(json!({"org_id": w.a, "customer_id": customer, "amount_due": 1})).await;
    assert_eq!(number(&next), "INV-00041");

    // Org B counts on its own.
    let b: String = sqlx::query_scalar(
        "insert into public.invoices (org_id, customer_id, amount_due) \
         select org_id, id, 1 from public.billing_customers where org_id = $1 limit 1 returning number",
    )
    .bind(w.b)
    .fetch_one(&w.app.pool)
    .await
    .unwrap();
    assert_eq!(b, "INV-00002");

    // '' only means "assign one" on insert; an invoice cannot be left without a number.
    let (status, body) = call(
        w.rest(
            Method::PATCH,
            &format!("/invoices?id=eq.{}", first[0]["id"].as_str().unwrap()),
            w.token("admin"),
        )
        .json(&json!({"number": ""})),
    )
    .await;
    assert_refused(status, &body, 400, "23514");
}

#[sqlx::test]
async fn numbers_grow_past_five_digits_instead_of_being_cut(pool: sqlx::PgPool) {
    let w = World::build(pool).await;
    let customer = w.id("billing_customer_own");
    let mut numbers = Vec::new();
    for given in [Some("INV-99999"), None, None] {
        let mut body = json!({"org_id": w.a, "customer_id": customer, "amount_due": 1});
        if let Some(n) = given {
            body["number"] = json!(n);
        }
        let (status, row) = call(
            w.returning(Method::POST, "/invoices", w.token("admin"))
                .json(&body),
        )
        .await;
        assert_eq!(status, 201, "{row}");
        numbers.push(number(&row));
    }
    assert_eq!(numbers, ["INV-99999", "INV-100000", "INV-100001"]);
}
