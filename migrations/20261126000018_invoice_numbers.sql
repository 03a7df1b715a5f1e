-- Invoice numbers are assigned by the database, per org, the way ticket numbers are: an invoice
-- inserted without a number gets the org's next `INV-00001`, `INV-00002`, … (five digits at
-- least, more past 99999), without a race (the counter row is locked until the insert commits).
-- An invoice inserted with a number keeps it (one synced from Stripe keeps Stripe's); if that
-- number has the form `INV-<n>`, the org's counter moves past n, so imported invoices never
-- collide with the ones numbered later.
--
-- Columns the database fills get a default, so `bizbase gen types typescript` marks them optional
-- on insert and typed clients may leave them out: `invoices.number` ('' means "assign one") and
-- `tickets.number` (always assigned by `private.on_ticket_written`).

alter table public.invoices alter column number set default '';
alter table public.tickets alter column number set default 0;

create function private.on_invoice_inserted() returns trigger
language plpgsql security definer set search_path = ''
as $$
declare
    v_next bigint;
begin
    if new.number is null or new.number = '' then
        v_next := private.next_number(new.org_id, 'invoice', 1);
        new.number := 'INV-' || case when v_next < 100000 then lpad(v_next::text, 5, '0') else v_next::text end;
    elsif new.number ~ '^INV-[0-9]{1,18}$' then
        insert into private.org_counters as c (org_id, name, value)
        values (new.org_id, 'invoice', substr(new.number, 5)::bigint)
        on conflict (org_id, name) do update set value = greatest(c.value, excluded.value);
    end if;
    return new;
end;
$$;

create trigger invoices_number before insert on public.invoices
    for each row execute function private.on_invoice_inserted();

-- Invoices that exist already: each org's counter continues after its highest `INV-<n>`.
insert into private.org_counters as c (org_id, name, value)
select org_id, 'invoice', max(substr(number, 5)::bigint)
from public.invoices
where number ~ '^INV-[0-9]{1,18}$'
group by org_id
on conflict (org_id, name) do update set value = greatest(c.value, excluded.value);

-- '' only ever means "assign one" on insert; no invoice keeps it.
alter table public.invoices add constraint invoices_number_not_empty check (number <> '');
