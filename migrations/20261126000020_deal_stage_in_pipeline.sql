-- A deal's stage must be a stage of the deal's pipeline (the foreign keys only say that both
-- exist; a deal of pipeline P at a stage of pipeline Q would be counted by P's summary under a
-- stage P does not have). Refused with 23503 (HTTP 409), like a foreign-key violation.

create function private.deal_stage_in_pipeline() returns trigger
language plpgsql security definer set search_path = ''
as $$
begin
    if exists (select 1 from public.pipeline_stages s
               where s.id = new.stage_id and s.pipeline_id <> new.pipeline_id) then
        raise exception 'stage % is not a stage of pipeline %', new.stage_id, new.pipeline_id
            using errcode = '23503', column = 'stage_id',
                  detail = format('Key (pipeline_id, stage_id)=(%s, %s) names a stage of another pipeline.',
                                  new.pipeline_id, new.stage_id);
    end if;
    return new;
end
$$;

create trigger deals_stage_in_pipeline before insert or update of pipeline_id, stage_id on public.deals
    for each row execute function private.deal_stage_in_pipeline();

-- Stages do not move between pipelines (their deals would be left at a stage of another one).
create function private.stage_stays_in_pipeline() returns trigger
language plpgsql set search_path = ''
as $$
begin
    if new.pipeline_id is distinct from old.pipeline_id then
        raise exception 'a stage cannot move to another pipeline'
            using errcode = '23514', column = 'pipeline_id';
    end if;
    return new;
end
$$;

create trigger pipeline_stages_stay before update of pipeline_id on public.pipeline_stages
    for each row execute function private.stage_stays_in_pipeline();
