-- `GET /auth/v1/admin/audit` lists the auth audit trail newest first, a page at a time.
-- Each entry takes the time it is written, not its transaction's start: a request that records
-- two events (a verification that also removes an unconfirmed password) lists them in order.
alter table auth.audit_log_entries alter column created_at set default clock_timestamp();
-- A page reads this index backwards instead of sorting the table (the total still counts it).
create index audit_log_entries_created_at_idx on auth.audit_log_entries (created_at, id);
