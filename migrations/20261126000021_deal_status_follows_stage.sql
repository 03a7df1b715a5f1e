-- A deal's status follows its stage: moving a deal to a stage of kind 'won' or 'lost' closes it as
-- won or lost, moving it back to an open stage reopens it (as a CRM's board does when a card is
-- dragged into "Closed won"). A status set explicitly in the same write wins over the stage's kind,
-- so a deal can still be marked lost without leaving its stage. `closed_at` follows the status: stamped
-- when a deal closes without one, cleared when it reopens (an open deal given a `closed_at` is still
-- refused by the table's check).

create function private.deal_status_follows_stage() returns trigger
language plpgsql security definer set search_path = ''
as $$
declare
    stage_kind text;
begin
    if tg_op = 'INSERT' or new.stage_id is distinct from old.stage_id then
        select s.kind into stage_kind from public.pipeline_stages s where s.id = new.stage_id;
        if tg_op = 'INSERT' then
            -- An insert names a status only when it differs from the default.
            if new.status = 'open' and stage_kind is not null then
                new.status := stage_kind;
            end if;
        elsif new.status is not distinct from old.status and stage_kind is not null then
            new.status := stage_kind;
        end if;
    end if;
    if new.status = 'open' and tg_op = 'UPDATE' and old.status <> 'open' then
        new.closed_at := null; -- reopened
    elsif new.status <> 'open' and new.closed_at is null then
        new.closed_at := now();
    end if;
    return new;
end
$$;

create trigger deals_status_follows_stage before insert or update of stage_id, status, closed_at
    on public.deals for each row execute function private.deal_status_follows_stage();
