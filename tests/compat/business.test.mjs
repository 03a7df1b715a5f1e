// The business schema's role policies as a supabase-js front end meets them: members of one org
// sign in with signInWithPassword and read and write through supabase.from(...); each role sees
// what its preset allows, a customer only their own tickets, nobody another org's rows, and an
// admin nothing until the second factor (aal2).

import assert from 'node:assert/strict';
import { before, test } from 'node:test';

import pg from 'pg';

import { assertNoError, createConfirmedUser, env, signedIn, totp } from './helpers.mjs';

const T = { timeout: 60_000 };
const ROLES = ['admin', 'sales_rep', 'customer_service', 'marketing_manager', 'customer'];

/** @type {Record<string, {id: string, email: string, password: string, sb: any}>} */
const members = {};
let orgA;
let orgB;

before(async () => {
  const db = new pg.Client({ connectionString: env('BIZBASE_DB_URL') });
  await db.connect();
  try {
    ({ rows: [{ id: orgA }] } = await db.query(`insert into public.orgs (name) values ('Compat A') returning id`));
    ({ rows: [{ id: orgB }] } = await db.query(`insert into public.orgs (name) values ('Compat B') returning id`));
    for (const role of ROLES) {
      const user = await createConfirmedUser();
      await db.query('insert into public.org_members (org_id, user_id, role) values ($1, $2, $3)', [orgA, user.id, role]);
      members[role] = user;
    }
    const customer = members.customer.id;
    for (const org of [orgA, orgB]) {
      await db.query(
        `with c as (insert into public.contacts (org_id, first_name) values ($1, 'Dana') returning id)
         insert into public.leads (org_id, contact_id, title) select $1, id, 'Lead of ' || $1 from c`,
        [org],
      );
      await db.query(
        `insert into public.tickets (org_id, user_id, subject) values ($1, $2, 'Mine'), ($1, null, 'Someone else''s')`,
        [org, org === orgA ? customer : null],
      );
      await db.query(`insert into public.campaigns (org_id, name, channel) values ($1, 'Spring', 'email')`, [org]);
    }
  } finally {
    await db.end();
  }
  // Sign in after the memberships exist, so the tokens carry the org.
  for (const role of ROLES) {
    const { sb } = await signedIn(members[role].email, members[role].password);
    members[role].sb = sb;
  }
});

async function visible(role, table) {
  const { data, error } = await members[role].sb.from(table).select('id, org_id');
  assertNoError(error, `${role} reading ${table}`);
  assert.ok(data.every((row) => row.org_id === orgA), `${role} saw another org's ${table}`);
  return data.length;
}

test('business: each role reads what its preset allows, and only its own org', T, async () => {
  const expected = {
    //                  leads contacts tickets campaigns
    admin: [0, 0, 0, 0], // at aal1: the org requires MFA of admins
    sales_rep: [1, 1, 0, 0],
    customer_service: [0, 1, 2, 0],
    marketing_manager: [0, 1, 0, 1],
    customer: [0, 0, 1, 0],
  };
  for (const role of ROLES) {
    const seen = [];
    for (const table of ['leads', 'contacts', 'tickets', 'campaigns']) seen.push(await visible(role, table));
    assert.deepEqual(seen, expected[role], `${role}: leads, contacts, tickets, campaigns`);
  }
});

test('business: a customer sees and opens only their own tickets', T, async () => {
  const { sb, id } = members.customer;
  const mine = await sb.from('tickets').select('subject, user_id, ticket_number');
  assertNoError(mine.error, 'customer tickets');
  assert.deepEqual(mine.data.map((t) => t.subject), ['Mine']);
  assert.equal(mine.data[0].user_id, id);
  assert.match(mine.data[0].ticket_number, /^T-\d+$/);

  const opened = await sb.from('tickets').insert({ org_id: orgA, subject: 'Invoice question' }).select('user_id, status').single();
  assertNoError(opened.error, 'customer opens a ticket');
  assert.deepEqual(opened.data, { user_id: id, status: 'open' });

  const assigned = await sb.from('tickets').insert({ org_id: orgA, subject: 'x', status: 'solved' });
  assert.equal(assigned.error?.code, '42501', 'a customer cannot open a ticket as solved');
  assert.equal(assigned.status, 403);
});

test('business: a customer\'s message is scored by the running server, and the agent sees why', T, async () => {
  const { sb } = members.customer;
  const ticket = await sb.from('tickets').insert({ org_id: orgA, subject: 'Broken export' }).select('id').single();
  assertNoError(ticket.error, 'customer opens a ticket');
  const said = await sb
    .from('ticket_messages')
    .insert({ org_id: orgA, ticket_id: ticket.data.id, author_kind: 'customer', body: 'This is terrible, I am very angry!' })
    .select('id')
    .single();
  assertNoError(said.error, 'customer writes');

  const agent = members.customer_service.sb;
  let row;
  for (let i = 0; i < 100; i += 1) {
    const read = await agent
      .from('ticket_messages')
      .select('sentiment, sentiment_label, sentiment_model, sentiment_terms, tickets(sentiment)')
      .eq('id', said.data.id)
      .single();
    assertNoError(read.error, 'agent reads the message');
    row = read.data;
    if (row.sentiment_label !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal(row.sentiment_label, 'negative', `not scored within 10 s: ${JSON.stringify(row)}`);
  assert.ok(row.sentiment < -0.05, `score ${row.sentiment}`);
  assert.equal(row.sentiment_model, 'vader-3.3.2');
  assert.ok(row.sentiment_terms.some(([term]) => term === 'terrible'), JSON.stringify(row.sentiment_terms));
  assert.equal(row.tickets.sentiment, 'negative');
});

test('business: writes outside the preset and into another org are refused', T, async () => {
  const rep = members.sales_rep.sb;
  const lead = await rep.from('leads').insert({ org_id: orgA, title: 'Fresh' }).select('title').single();
  assertNoError(lead.error, 'a rep creates a lead');

  const campaign = await rep.from('campaigns').insert({ org_id: orgA, name: 'Nope', channel: 'email' });
  assert.equal(campaign.error?.code, '42501');

  const elsewhere = await rep.from('leads').insert({ org_id: orgB, title: 'Elsewhere' });
  assert.equal(elsewhere.error?.code, '42501');

  const changed = await rep.from('leads').update({ title: 'Hijacked' }).eq('org_id', orgB).select();
  assertNoError(changed.error, 'update of invisible rows');
  assert.deepEqual(changed.data, [], 'no row of org B was changed');
});

test('business: an admin gets the org after passing the second factor', T, async () => {
  const { sb } = members.admin;
  const enrolled = await sb.auth.mfa.enroll({ factorType: 'totp' });
  assertNoError(enrolled.error, 'mfa.enroll');
  const verified = await sb.auth.mfa.challengeAndVerify({
    factorId: enrolled.data.id,
    code: totp(enrolled.data.totp.secret),
  });
  assertNoError(verified.error, 'mfa.challengeAndVerify');

  assert.ok((await visible('admin', 'leads')) >= 1);
  assert.equal(await visible('admin', 'campaigns'), 1);
  const tickets = await visible('admin', 'tickets');
  const kpis = await sb.rpc('kpi_snapshot', { org_id: orgA });
  assertNoError(kpis.error, 'kpi_snapshot');
  assert.equal(kpis.data.open_tickets, tickets, 'every ticket of the org is open');
  assert.equal(kpis.data.active_campaigns, 0, 'the campaign is a draft');

  const audit = await sb.rpc('audit_entries', { org: orgA, table_filter: 'leads' });
  assertNoError(audit.error, 'audit_entries');
  assert.ok(audit.data.some((e) => e.op === 'INSERT'), 'the lead inserts are in the audit log');
});

test('business: an admin exports a customer\'s data, attachment bytes included, with functions.invoke', T, async () => {
  // Runs after the admin passed the second factor (the test above): exports need aal2.
  const customer = members.customer;
  const mine = await customer.sb.from('tickets').select('id').eq('subject', 'Mine').single();
  assertNoError(mine.error, 'the customer reads their ticket');
  const path = `${orgA}/${mine.data.id}/screenshot.txt`;
  const uploaded = await customer.sb.storage
    .from('ticket-attachments')
    .upload(path, new Blob(['it broke here'], { type: 'text/plain' }));
  assertNoError(uploaded.error, 'the customer attaches a file to their ticket');

  const body = { org: orgA, email: customer.email };
  const exported = await members.admin.sb.functions.invoke('subject-export', { body });
  const denied = await members.sales_rep.sb.functions.invoke('subject-export', { body });

  assertNoError(exported.error, 'subject-export');
  assert.ok(exported.data.tickets.length >= 1, 'their tickets');
  assert.ok(exported.data.tickets.every((t) => t.user_id === customer.id), 'only theirs');
  assert.deepEqual(exported.data.files.map((f) => f.name), [path]);
  assert.equal(Buffer.from(exported.data.files[0].content_base64, 'base64').toString(), 'it broke here');
  assert.ok(denied.error, 'a sales rep may not export personal data');
  assert.equal(denied.error.context.status, 403);
});
