-- `GET /auth/v1/admin/audit` lists the auth audit trail newest first, a page at a time: without an
-- index on the time, every page sorted the whole table.
create index audit_log_entries_created_at_idx on auth.audit_log_entries (created_at);
