-- Corrections to the business schema after its first use:
-- 1. The audit log records the caller's database role when a change carries no JWT claims
--    (a script, a migration): `session_user`, not the trigger function's owner.
-- 2. The newest-first lead list (`order=created_at.desc,id.desc`) is served by one index scan.
-- 3. `kpi_snapshot` sums one currency (default USD) instead of adding amounts of different ones.

create or replace function private.audit_append(
    p_org uuid, p_table text, p_row text, p_op text, p_changes jsonb
) returns void
language plpgsql security definer set search_path = ''
as $$
declare
    v_chain uuid := coalesce(p_org, '00000000-0000-0000-0000-000000000000');
    v_seq bigint;
    v_prev text;
    v_at timestamptz := clock_timestamp();
    v_actor uuid := auth.uid();
    v_role text := coalesce(nullif(auth.jwt() ->> 'role', ''), session_user::text);
    v_request text := coalesce(
        nullif(current_setting('request.id', true), ''),
        nullif(current_setting('request.headers', true), '')::jsonb ->> 'x-request-id'
    );
    v_hash text;
begin
    select seq, hash into v_seq, v_prev from private.audit_chains where chain = v_chain for update;
    if not found then
        insert into private.audit_chains (chain) values (v_chain) on conflict do nothing;
        select seq, hash into v_seq, v_prev from private.audit_chains where chain = v_chain for update;
    end if;
    v_seq := v_seq + 1;
    v_hash := encode(sha256(convert_to(v_prev || '|' || private.audit_canonical(
        v_chain, v_seq, p_org, v_actor, v_role, p_table, p_row, p_op, p_changes, v_request, v_at), 'UTF8')), 'hex');
    insert into private.audit_log (chain, seq, org_id, actor_id, actor_role, table_name, row_id, op, changes,
                                   request_id, at, prev_hash, hash)
    values (v_chain, v_seq, p_org, v_actor, v_role, p_table, p_row, p_op, p_changes, v_request, v_at, v_prev, v_hash);
    update private.audit_chains set seq = v_seq, hash = v_hash where chain = v_chain;
end
$$;

drop index public.leads_org_created_idx;
create index leads_org_created_idx on public.leads (org_id, created_at desc, id desc);

drop function public.kpi_snapshot(uuid);
create function public.kpi_snapshot(org_id uuid, currency text default 'USD')
returns jsonb
language sql stable
as $$
    select jsonb_build_object(
        'currency', kpi_snapshot.currency,
        'revenue_30d', (select coalesce(sum(amount - amount_refunded), 0) from public.payments p
                        where p.org_id = kpi_snapshot.org_id and p.currency = kpi_snapshot.currency
                          and status in ('succeeded', 'partially_refunded', 'refunded')
                          and coalesce(paid_at, created_at) >= now() - interval '30 days'),
        'revenue_total', (select coalesce(sum(amount - amount_refunded), 0) from public.payments p
                          where p.org_id = kpi_snapshot.org_id and p.currency = kpi_snapshot.currency
                            and status in ('succeeded', 'partially_refunded', 'refunded')),
        'mrr', (select coalesce(round(sum(pr.unit_amount * s.quantity * case pr.billing_interval
                        when 'day' then 30 when 'week' then 52.0 / 12 when 'month' then 1 when 'year' then 1.0 / 12 end), 2), 0)
                from public.subscriptions s join public.prices pr on pr.id = s.price_id
                where s.org_id = kpi_snapshot.org_id and pr.currency = kpi_snapshot.currency
                  and s.status in ('active', 'past_due') and pr.kind = 'recurring'),
        'open_deals', (select count(*) from public.deals d where d.org_id = kpi_snapshot.org_id and status = 'open'),
        'open_pipeline_value', (select coalesce(sum(amount), 0) from public.deals d
                                where d.org_id = kpi_snapshot.org_id and d.currency = kpi_snapshot.currency
                                  and status = 'open'),
        'open_tickets', (select count(*) from public.tickets t
                         where t.org_id = kpi_snapshot.org_id and status in ('open', 'pending', 'on_hold')),
        'active_campaigns', (select count(*) from public.campaigns c
                             where c.org_id = kpi_snapshot.org_id and status = 'running')
    )
$$;
revoke execute on function public.kpi_snapshot(uuid, text) from public;
grant execute on function public.kpi_snapshot(uuid, text) to authenticated, service_role;
