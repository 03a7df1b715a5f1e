-- Demo data, part 3: customer service. SLA policies, 300 tickets over the last ~180 days (a dozen
-- opened by the demo customer), conversations between customers and the agent with sentiment
-- labels, most tickets solved, some past their SLA, and canned replies.

insert into public.sla_policies (org_id, priority, first_response_minutes, resolution_minutes)
select x.org_id, p.priority, p.first_response, p.resolution
from demo_ctx x
cross join (values ('urgent', 60, 240), ('high', 240, 1440), ('normal', 480, 2880), ('low', 1440, 5760))
    p(priority, first_response, resolution);

-- Response and resolution take a fraction of the SLA time, except for about one ticket in six;
-- half of the last day's tickets still wait for a first answer.
create temp table demo_tickets on commit drop as
select t.*,
       case when t.responded is null then 'open'
            when t.age_days > 10 then
                case when t.resolvable then case when t.rs < 0.65 then 'solved' else 'closed' end
                     when t.rs < 0.5 then 'on_hold' else 'pending' end
            when t.resolvable and t.rs < 0.45 then 'solved'
            else pg_temp.pick(array['open', 'pending', 'on_hold', 'pending'], 'tk-open' || t.n) end as status
from (
    select b.*,
           case when b.created_at + b.first_minutes * interval '1 minute' < now()
                     and not (b.age_days < 1 and pg_temp.rnd('tk-wait' || b.n) < 0.5)
                then b.created_at + b.first_minutes * interval '1 minute' end as responded,
           b.created_at + greatest(b.resolve_minutes, b.first_minutes + 30) * interval '1 minute' as resolved,
           b.created_at + greatest(b.resolve_minutes, b.first_minutes + 30) * interval '1 minute' < now() - interval '15 minutes'
               and b.rs < 0.95 as resolvable
    from (
        select a.*,
               s.first_response * case when pg_temp.rnd('tk-fbreach' || a.n) < 0.16
                   then 1.1 + 2.5 * pg_temp.rnd('tk-fr' || a.n) else 0.05 + 0.85 * pg_temp.rnd('tk-fr' || a.n) end as first_minutes,
               s.resolution * case when pg_temp.rnd('tk-rbreach' || a.n) < 0.14
                   then 1.05 + 2.0 * pg_temp.rnd('tk-res' || a.n) else 0.1 + 0.85 * pg_temp.rnd('tk-res' || a.n) end as resolve_minutes
        from (
            select n, gen_random_uuid() as id, now() - make_interval(secs => g.age_secs) as created_at,
                   g.age_secs / 86400 as age_days,
                   n % 25 = 1 as own,
                   case when pg_temp.rnd('tk-prio' || n) < 0.08 then 'urgent' when pg_temp.rnd('tk-prio' || n) < 0.30 then 'high'
                        when pg_temp.rnd('tk-prio' || n) < 0.80 then 'normal' else 'low' end as priority,
                   pg_temp.pick(array['web', 'email', 'chat', 'phone', 'email', 'web'], 'tk-ch' || n) as channel,
                   pg_temp.rnd('tk-status' || n) as rs,
                   1 + floor(pg_temp.rnd('tk-topic' || n) * 8)::int as topic,
                   pg_temp.rnd('tk-mood' || n) as mood
            from generate_series(1, 300) n
            -- One in seven tickets is from the last week, so the queue has open work.
            cross join lateral (select case when pg_temp.rnd('tk-recent' || n) < 0.15
                then 1800 + pg_temp.rnd('tk-at' || n) * 7 * 86400
                else 3600 + pg_temp.rnd('tk-at' || n) * 178 * 86400 end as age_secs) g
        ) a
        join (values ('urgent', 60, 240), ('high', 240, 1440), ('normal', 480, 2880), ('low', 1440, 5760))
            s(priority, first_response, resolution) on s.priority = a.priority
    ) b
) t;

-- The topics customers write about: subject, the opening message, the agent's first reply.
create temp table demo_topics on commit drop as
select * from (values
    (1, 'Site is down', 'Our website shows an error page since this morning. Customers cannot place orders!',
        'Thanks for the alert. We are on it: the hosting node restarted and we are bringing the site back now.'),
    (2, 'Invoice amount looks wrong', 'The last invoice is higher than our plan. Can you check what was charged?',
        'I have looked at your account: the difference is the usage add-on. I have attached the breakdown.'),
    (3, 'How do I change my logo?', 'I would like to replace the logo in the header. Where do I do that?',
        'You can change it under Settings → Branding. I have also uploaded the new file for you.'),
    (4, 'Contact form e-mails not arriving', 'Messages sent through our contact form no longer reach our inbox.',
        'The form was sending to an old address. I have updated it and sent a test message.'),
    (5, 'Request: add a new page', 'Could you add a page for our new service with the text I attached?',
        'Happy to. The new page is in draft; please have a look and we will publish it.'),
    (6, 'Slow loading on mobile', 'The homepage takes ages to load on phones. This is costing us visitors.',
        'We compressed the hero images and enabled caching. Load time dropped from 6 s to 1.8 s.'),
    (7, 'Cancel the SEO add-on', 'We would like to cancel the SEO add-on at the end of this period.',
        'Done: the add-on stays active until the end of the period and will not renew.'),
    (8, 'Thank you for the launch!', 'The new site looks fantastic, our customers love it. One small typo on the about page.',
        'Thank you! The typo is fixed. Let us know if anything else comes up.')
) v(topic, subject, opening, reply);

insert into public.tickets (id, org_id, user_id, contact_id, assignee_id, subject, issue, status, priority,
                            channel, sentiment, first_responded_at, resolved_at, created_at, updated_at)
select t.id, x.org_id, case when t.own then x.customer_id end,
       case when t.own then (select id from demo_contacts where k = 1)
            else (select id from demo_contacts where k = 1 + (t.n * 17) % 500) end,
       case when t.responded is null and pg_temp.rnd('tk-assign' || t.n) < 0.5 then null else x.support_id end,
       tp.subject, tp.opening, t.status, t.priority, t.channel, m.label, t.responded,
       case when t.status in ('solved', 'closed') then t.resolved end, t.created_at,
       coalesce(case when t.status in ('solved', 'closed') then t.resolved end, t.responded, t.created_at)
from demo_tickets t
cross join demo_ctx x
join demo_topics tp on tp.topic = t.topic
cross join lateral (select case when t.topic = 8 then 'positive'
                                when t.mood < 0.45 then 'negative' when t.mood < 0.85 then 'neutral'
                                else 'positive' end as label) m
order by t.created_at;

-- Conversations: the customer's opening message, the agent's first reply, sometimes an internal
-- note, a customer follow-up, the agent's closing message and the customer's thanks.
insert into public.ticket_messages (org_id, ticket_id, author_id, author_kind, body, internal, sentiment,
                                    sentiment_label, created_at, updated_at)
select x.org_id, t.id, case when m.kind = 'customer' then tk.user_id else x.support_id end, m.kind, m.body,
       m.internal, s.score, m.label, m.at, m.at
from demo_tickets t
join public.tickets tk on tk.id = t.id
join demo_topics tp on tp.topic = t.topic
cross join demo_ctx x
cross join lateral (values
    ('customer', tp.opening, false, tk.sentiment, t.created_at),
    ('agent', tp.reply, false, 'neutral', t.responded),
    ('agent', 'Checked the logs; escalating to hosting if it happens again.', true, null,
        case when pg_temp.rnd('tk-note' || t.n) < 0.2 then t.responded + interval '10 minutes' end),
    ('customer',
        case when t.mood < 0.3 then 'This is still not working and it is the second time this month. Very disappointing.'
             when t.mood < 0.7 then 'Thanks, I will check and get back to you.'
             else 'Great, that was quick. Much appreciated!' end,
        false,
        case when t.mood < 0.3 then 'negative' when t.mood < 0.7 then 'neutral' else 'positive' end,
        case when pg_temp.rnd('tk-follow' || t.n) < 0.6 then
            t.responded + (coalesce(case when t.status in ('solved', 'closed') then t.resolved end, now()) - t.responded) / 3 end),
    ('agent', 'All sorted on our side, so I am marking this ticket as solved. Reply here if anything is off.', false,
        'positive', case when t.status in ('solved', 'closed') then t.resolved - interval '5 minutes' end),
    ('customer', 'Confirmed, everything works now. Thank you!', false, 'positive',
        case when t.status in ('solved', 'closed') and pg_temp.rnd('tk-thanks' || t.n) < 0.4
             and t.resolved + interval '10 minutes' < now() then t.resolved + interval '10 minutes' end)
) m(kind, body, internal, label, at)
cross join lateral (select case m.label
    when 'negative' then -round((0.3 + 0.65 * pg_temp.rnd('tk-s' || t.n || m.body))::numeric, 3)
    when 'neutral' then round((-0.2 + 0.4 * pg_temp.rnd('tk-s' || t.n || m.body))::numeric, 3)
    when 'positive' then round((0.3 + 0.65 * pg_temp.rnd('tk-s' || t.n || m.body))::numeric, 3)
    end as score) s
where m.at is not null
order by t.created_at, m.at;

insert into public.canned_replies (org_id, title, body, tags, created_by)
select x.org_id, r.title, r.body, r.tags, x.support_id
from demo_ctx x
cross join (values
    ('Greeting', 'Hi {{first_name}}, thanks for reaching out! I am looking into this now.', array['general']),
    ('Need more details', 'Could you send a screenshot and the page address where this happens?', array['triage']),
    ('Outage acknowledged', 'We know about the outage and are working on it. Updates follow every 30 minutes.', array['incident']),
    ('Billing breakdown', 'Here is the breakdown of your last invoice: plan, add-ons and usage.', array['billing']),
    ('Cancellation confirmed', 'Your cancellation is confirmed; the service stays active until the end of the period.', array['billing']),
    ('Password reset', 'You can reset your password from the sign-in page with "Forgot password".', array['account']),
    ('Change request received', 'Thanks for the request. We will send a preview within two working days.', array['sites']),
    ('Closing', 'I will mark this ticket as solved. Just reply if you need anything else.', array['general'])
) r(title, body, tags);
