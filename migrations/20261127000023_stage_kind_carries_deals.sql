-- A stage whose kind changes takes its deals along, as a board does when "Negotiation" is turned into
-- a "Closed won" column: the deals in it whose status followed the old kind (open deals of an open
-- stage, won deals of a won stage, …) take the new one, and `closed_at` follows through the deals'
-- own trigger (stamped on closing, cleared on reopening). A deal given another status explicitly —
-- marked lost while it stood in an open stage — keeps it.

create function private.stage_kind_carries_deals() returns trigger
language plpgsql security definer set search_path = ''
as $$
begin
    update public.deals set status = new.kind where stage_id = new.id and status = old.kind;
    return null;
end
$$;

create trigger pipeline_stages_kind_carries_deals after update of kind on public.pipeline_stages
    for each row when (old.kind is distinct from new.kind)
    execute function private.stage_kind_carries_deals();
