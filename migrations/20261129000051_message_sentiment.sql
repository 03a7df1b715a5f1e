-- Sentiment on every customer message, scored by bizbase itself (`src/jobs/sentiment.rs`, VADER
-- 3.3.2 in `src/ai/sentiment`). Before, `sentiment` and `sentiment_label` were only ever filled by
-- the demo data, so `ticket_stats`' sentiment mix stayed empty for real messages.
--
-- A customer message that has no sentiment yet — neither a score nor a label, and no model — and
-- was not erased is picked up by the worker, which writes the score, the label, the model's name and the terms that
-- moved the score most (so an agent sees why). A score or label written by staff is theirs: the
-- worker never overwrites it. The ticket's own `sentiment` follows its customer messages (an
-- exponentially weighted mean, the newest message weighing half).

alter table public.ticket_messages
    add column sentiment_model text check (length(sentiment_model) <= 100),
    add column sentiment_terms jsonb check (jsonb_typeof(sentiment_terms) = 'array');

comment on column public.ticket_messages.sentiment_model is
    'What scored the sentiment (e.g. vader-3.3.2); null when staff set it or it is not scored yet.';
comment on column public.ticket_messages.sentiment_terms is
    'The words that moved the score most, strongest first: [[term, valence], …].';

-- What the worker looks for, oldest first, without reading the table.
create index ticket_messages_unscored_idx on public.ticket_messages (created_at)
    where author_kind = 'customer' and sentiment is null and sentiment_label is null
      and sentiment_model is null and body <> '[erased]';

-- A changed text is scored again (unless the same update sets the sentiment itself), and the
-- terms of the old text go with it — an erasure leaves none of its words behind.
create function private.on_ticket_message_edited() returns trigger
language plpgsql
as $$
begin
    if new.body is distinct from old.body then
        new.sentiment_terms := null;
        new.sentiment_model := null;
        if (new.sentiment, new.sentiment_label) is not distinct from (old.sentiment, old.sentiment_label) then
            new.sentiment := null;
            new.sentiment_label := null;
        end if;
    end if;
    return new;
end
$$;
create trigger ticket_messages_edited before update of body on public.ticket_messages
    for each row execute function private.on_ticket_message_edited();

-- A customer's message carries none of the scorer's columns either (as 0046 for the score).
drop policy ticket_messages_own_insert on public.ticket_messages;
create policy ticket_messages_own_insert on public.ticket_messages for insert to authenticated
    with check (
        author_id = (select auth.uid()) and author_kind = 'customer' and not internal
        and sentiment is null and sentiment_label is null and created_at = now()
        and sentiment_model is null and sentiment_terms is null
        and org_id = any ((select auth.orgs_with('messages.create'))::uuid[])
        and exists (select 1 from public.tickets t
                where t.id = ticket_messages.ticket_id and t.user_id = (select auth.uid()) and t.org_id = ticket_messages.org_id)
    );

-- An erasure redacts the terms from the audit trail too (they are words of the message).
create or replace function private.subject_erased_columns() returns table (table_name text, columns text[])
language sql immutable
as $$
    values ('contacts', array['first_name', 'last_name', 'email', 'phone', 'title', 'tags', 'marketing_consent',
                              'consent_at', 'user_id']),
           ('ticket_messages', array['body', 'sentiment', 'sentiment_label', 'sentiment_terms']),
           ('tickets', array['subject', 'issue']),
           ('leads', array['title', 'lead_details']),
           ('marketing_events', array['properties']),
           ('billing_customers', array['email']),
           ('org_invitations', array['email']),
           ('profiles', array['email', 'full_name', 'avatar_url'])
$$;
