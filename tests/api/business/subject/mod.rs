//! Data-subject rights: one JSON document with everything that refers to a person, and erasure
//! that anonymizes them while keeping the financial records, recorded in the audit log without
//! the personal data — by the operator (`bizbase subject …`) or by an org admin at aal2.

mod audit_redaction;
mod deleted_rows;
mod erasure;
mod export;
mod files;

use serde_json::Value;

use super::World;

const CUSTOMER: &str = "customer@a.test";

fn count(doc: &Value, key: &str) -> usize {
    doc[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} is not a list: {}", doc[key]))
        .len()
}

/// An invitation to org A sent to the person's address.
async fn invite(w: &World) {
    sqlx::query("insert into public.org_invitations (org_id, email, role, token_hash) values ($1, $2, 'sales_rep', 'h')")
        .bind(w.a)
        .bind(CUSTOMER)
        .execute(&w.app.pool)
        .await
        .unwrap();
}

impl World {
    fn function(&self, name: &str, token: &str) -> reqwest::RequestBuilder {
        self.app
            .client
            .post(self.app.url(&format!("/functions/v1/{name}")))
            .header("apikey", &self.app.anon_key)
            .bearer_auth(token)
    }
}
