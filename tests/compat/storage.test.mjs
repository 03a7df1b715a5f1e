// supabase-js storage (`supabase.storage`) against bizbase's /storage/v1 (reference §4): buckets,
// uploads as Blob (multipart, empty field name) and Buffer (raw body), download, list, move, copy,
// remove, public URLs fetched without any key, RLS on storage.objects for a signed-in user, and
// signed download and upload URLs.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, test } from 'node:test';

import pg from 'pg';

import { admin, assertNoError, client, createConfirmedUser, env, signedIn } from './helpers.mjs';

const T = { timeout: 60_000 };
const BUCKET = `js-files-${randomBytes(4).toString('hex')}`;
const PUBLIC = `js-public-${randomBytes(4).toString('hex')}`;
const HOME = `js-home-${randomBytes(4).toString('hex')}`;

before(async () => {
  const db = new pg.Client({ connectionString: env('BIZBASE_DB_URL') });
  await db.connect();
  try {
    await db.query(`
      create policy js_home_insert on storage.objects for insert to authenticated
        with check (bucket_id = '${HOME}' and (storage.foldername(name))[1] = auth.uid()::text);
      create policy js_home_select on storage.objects for select to authenticated
        using (bucket_id = '${HOME}' and (storage.foldername(name))[1] = auth.uid()::text);`);
  } finally {
    await db.end();
  }
  const storage = admin().storage;
  for (const [id, options] of [[BUCKET, { public: false }], [PUBLIC, { public: true }], [HOME, { public: false }]]) {
    const { data, error } = await storage.createBucket(id, options);
    assertNoError(error, `createBucket(${id})`);
    assert.deepEqual(data, { name: id });
  }
});

test('storage: createBucket refuses a duplicate, getBucket and listBuckets show the buckets', T, async () => {
  const storage = admin().storage;
  const { error } = await storage.createBucket(BUCKET);
  assert.ok(error, 'a duplicate bucket must be refused');
  assert.equal(error.status, 400);
  assert.equal(error.statusCode, '409');
  const { data: bucket, error: getError } = await storage.getBucket(PUBLIC);
  assertNoError(getError, 'getBucket');
  assert.equal(bucket.public, true);
  const { data: buckets, error: listError } = await storage.listBuckets();
  assertNoError(listError, 'listBuckets');
  assert.ok(buckets.some((b) => b.id === BUCKET));
});

test('storage: upload a Blob and a Buffer, download them, and refuse a second upload without upsert', T, async () => {
  const files = admin().storage.from(BUCKET);
  const blob = new Blob(['hello from a blob'], { type: 'text/plain' });
  const { data: up, error } = await files.upload('docs/blob.txt', blob, { cacheControl: '60' });
  assertNoError(error, 'upload(Blob)');
  assert.equal(up.path, 'docs/blob.txt');
  assert.equal(up.fullPath, `${BUCKET}/docs/blob.txt`);
  const { error: bufError } = await files.upload('docs/buffer.bin', Buffer.from([1, 2, 3]), {
    contentType: 'application/octet-stream',
  });
  assertNoError(bufError, 'upload(Buffer)');

  const { data: down, error: downError } = await files.download('docs/blob.txt');
  assertNoError(downError, 'download');
  assert.equal(await down.text(), 'hello from a blob');
  const { data: bin } = await files.download('docs/buffer.bin');
  assert.deepEqual([...new Uint8Array(await bin.arrayBuffer())], [1, 2, 3]);

  const { error: dup } = await files.upload('docs/blob.txt', blob);
  assert.ok(dup, 'a second upload without upsert must be refused');
  assert.equal(dup.statusCode, '409', `${dup.name}: ${dup.message} ${dup.originalError?.cause ?? dup.originalError ?? ''}`);
  const { error: upsertError } = await files.upload('docs/blob.txt', new Blob(['v2']), { upsert: true });
  assertNoError(upsertError, 'upload with upsert');
  const { data: v2 } = await files.download('docs/blob.txt');
  assert.equal(await v2.text(), 'v2');
  const { data: exists } = await files.exists('docs/blob.txt');
  assert.equal(exists, true);
  const { data: info, error: infoError } = await files.info('docs/buffer.bin');
  assertNoError(infoError, 'info');
  assert.equal(info.size, 3);
});

test('storage: a refused upload answers with its error every time, however much of the body was still on its way', T, async () => {
  // The refusal (here: the key exists) is decided before the bytes are read. Answering while the
  // client still sends must not cut the connection: a reset would reach supabase-js as a network
  // failure (StorageUnknownError) instead of the 409.
  const files = admin().storage.from(BUCKET);
  const big = randomBytes(512 * 1024);
  assertNoError((await files.upload('refused/blob.bin', new Blob([big]))).error, 'upload(Blob)');
  assertNoError((await files.upload('refused/buffer.bin', big)).error, 'upload(Buffer)');
  for (let i = 0; i < 20; i++) {
    for (const [path, body] of [['refused/blob.bin', new Blob([big])], ['refused/buffer.bin', big]]) {
      const { error } = await files.upload(path, body);
      assert.ok(error, `attempt ${i}: a second upload of ${path} without upsert must be refused`);
      const cause = error.originalError?.cause ?? error.originalError;
      assert.equal(error.statusCode, '409', `attempt ${i} (${path}): ${error.name}: ${error.message} ${cause ?? ''}`);
    }
  }
});

test('storage: list shows folders and files one level below the prefix', T, async () => {
  const files = admin().storage.from(BUCKET);
  for (const name of ['list/a.txt', 'list/b.txt', 'list/sub/c.txt']) {
    assertNoError((await files.upload(name, name)).error, `upload(${name})`);
  }
  const { data, error } = await files.list('list', { limit: 10, sortBy: { column: 'name', order: 'asc' } });
  assertNoError(error, 'list');
  assert.deepEqual(data.map((o) => o.name), ['sub', 'a.txt', 'b.txt']);
  assert.equal(data[0].id, null);
  assert.equal(data[1].metadata.size, 10);
  const { data: searched } = await files.list('list', { search: 'b' });
  assert.deepEqual(searched.map((o) => o.name), ['b.txt']);
});

test('storage: move, copy and remove', T, async () => {
  const files = admin().storage.from(BUCKET);
  assertNoError((await files.upload('mv/from.txt', 'moving')).error, 'upload');
  assertNoError((await files.move('mv/from.txt', 'mv/to.txt')).error, 'move');
  const { error: gone } = await files.download('mv/from.txt');
  assert.ok(gone, 'the source of a move is gone');
  const { data: copied, error: copyError } = await files.copy('mv/to.txt', 'mv/copy.txt');
  assertNoError(copyError, 'copy');
  assert.equal(copied.path, `${BUCKET}/mv/copy.txt`);
  assert.equal(await (await files.download('mv/copy.txt')).data.text(), 'moving');

  const { data: removed, error } = await files.remove(['mv/to.txt', 'mv/copy.txt', 'mv/missing.txt']);
  assertNoError(error, 'remove');
  assert.deepEqual(removed.map((o) => o.name).sort(), ['mv/copy.txt', 'mv/to.txt']);
  const { data: left } = await files.list('mv');
  assert.deepEqual(left, []);
});

test('storage: getPublicUrl of a public bucket is fetched without any key', T, async () => {
  const pub = admin().storage.from(PUBLIC);
  assertNoError((await pub.upload('img/logo.svg', new Blob(['<svg/>'], { type: 'image/svg+xml' }))).error, 'upload');
  const { data } = pub.getPublicUrl('img/logo.svg');
  const response = await fetch(data.publicUrl);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'image/svg+xml');
  assert.equal(await response.text(), '<svg/>');
  const priv = admin().storage.from(BUCKET).getPublicUrl('docs/blob.txt');
  assert.equal((await fetch(priv.data.publicUrl)).status, 400);
});

test('storage: RLS: a user writes and reads their own folder only; anon is refused', T, async () => {
  const user = await createConfirmedUser();
  const { sb } = await signedIn(user.email, user.password);
  const home = sb.storage.from(HOME);
  assertNoError((await home.upload(`${user.id}/note.txt`, 'mine')).error, 'upload to own folder');
  assert.equal(await (await home.download(`${user.id}/note.txt`)).data.text(), 'mine');
  const { data: listed } = await home.list(user.id);
  assert.deepEqual(listed.map((o) => o.name), ['note.txt']);

  const { error: elsewhere } = await home.upload('someone-else/note.txt', 'x');
  assert.ok(elsewhere, 'an upload outside the own folder must be refused');
  assert.equal(elsewhere.statusCode, '403');
  const { error: anon } = await client().storage.from(HOME).upload(`${user.id}/anon.txt`, 'x');
  assert.ok(anon, 'anon must be refused');
  const { error: bucketByUser } = await sb.storage.createBucket('user-made');
  assert.ok(bucketByUser, 'only service_role creates buckets without a policy');
});

test('storage: createSignedUrl is fetched without any key, with ranges and a download name', T, async () => {
  const files = admin().storage.from(BUCKET);
  assertNoError((await files.upload('signed/a file.txt', '0123456789')).error, 'upload');
  const { data, error } = await files.createSignedUrl('signed/a file.txt', 60);
  assertNoError(error, 'createSignedUrl');
  assert.ok(data.signedUrl.startsWith(`${env('BIZBASE_URL')}/storage/v1/object/sign/${BUCKET}/signed/a%20file.txt?token=`));
  const response = await fetch(data.signedUrl);
  assert.equal(response.status, 200);
  assert.equal(await response.text(), '0123456789');
  const ranged = await fetch(data.signedUrl, { headers: { range: 'bytes=3-5' } });
  assert.equal(ranged.status, 206);
  assert.equal(await ranged.text(), '345');
  const { data: named } = await files.createSignedUrl('signed/a file.txt', 60, { download: 'x.txt' });
  const attachment = await fetch(named.signedUrl);
  assert.match(attachment.headers.get('content-disposition'), /^attachment; filename=x\.txt/);

  const other = new URL(data.signedUrl);
  other.pathname = other.pathname.replace('a%20file.txt', 'other.txt');
  const misdirected = await fetch(other);
  assert.equal(misdirected.status, 400);
  assert.equal((await misdirected.json()).code, 'InvalidSignature');
  const { error: missing } = await files.createSignedUrl('signed/missing.txt', 60);
  assert.ok(missing, 'a missing object cannot be signed');
  assert.equal(missing.statusCode, '404');
});

test('storage: createSignedUrls signs the visible paths and reports the others', T, async () => {
  const user = await createConfirmedUser();
  const { sb } = await signedIn(user.email, user.password);
  const home = sb.storage.from(HOME);
  assertNoError((await home.upload(`${user.id}/one.txt`, 'one')).error, 'upload');
  assertNoError((await admin().storage.from(HOME).upload('shared/two.txt', 'two')).error, 'upload as service');
  const { data, error } = await home.createSignedUrls([`${user.id}/one.txt`, 'shared/two.txt'], 60);
  assertNoError(error, 'createSignedUrls');
  assert.equal(data[0].error, null);
  assert.equal(data[0].path, `${user.id}/one.txt`);
  assert.equal(await (await fetch(data[0].signedUrl)).text(), 'one');
  assert.equal(data[1].error, 'Either the object does not exist or you do not have access to it');
  assert.equal(data[1].signedUrl, null);
});

test('storage: createSignedUploadUrl + uploadToSignedUrl upload as the signer, once per token', T, async () => {
  const user = await createConfirmedUser();
  const { sb } = await signedIn(user.email, user.password);
  const path = `${user.id}/signed-upload.txt`;
  const { data: signed, error } = await sb.storage.from(HOME).createSignedUploadUrl(path);
  assertNoError(error, 'createSignedUploadUrl');
  assert.equal(signed.path, path);
  assert.ok(signed.signedUrl.includes(`/storage/v1/object/upload/sign/${HOME}/${path}?token=`));

  // Anyone holding the token may upload, with no key and no session.
  const stranger = client().storage.from(HOME);
  const { data: up, error: upError } = await stranger.uploadToSignedUrl(path, signed.token, new Blob(['signed bytes']));
  assertNoError(upError, 'uploadToSignedUrl');
  assert.equal(up.fullPath, `${HOME}/${path}`);
  const { data: down, error: downError } = await sb.storage.from(HOME).download(path);
  assertNoError(downError, 'download');
  assert.equal(await down.text(), 'signed bytes');
  const { data: listed } = await sb.storage.from(HOME).list(user.id);
  assert.ok(listed.some((o) => o.name === 'signed-upload.txt'));

  const { error: again } = await stranger.uploadToSignedUrl(path, signed.token, Buffer.from('again'));
  assert.ok(again, 'a token without upsert does not overwrite');
  assert.equal(again.statusCode, '409');
  const { error: elsewhere } = await stranger.uploadToSignedUrl(`${user.id}/other.txt`, signed.token, 'x');
  assert.ok(elsewhere, 'a token is good for its own path only');
  const { error: denied } = await sb.storage.from(HOME).createSignedUploadUrl('shared/not-mine.txt');
  assert.ok(denied, 'signing is refused where the signer may not insert');
  assert.equal(denied.statusCode, '403');
});

test('storage: a unicode key uploads, downloads, lists and signs', T, async () => {
  const files = admin().storage.from(BUCKET);
  const key = 'unicode/café/résumé 履歴書 😀.pdf';
  const { data: up, error } = await files.upload(key, new Blob(['%PDF-1'], { type: 'application/pdf' }));
  assertNoError(error, 'upload');
  assert.equal(up.path, key);
  const { data: down, error: downError } = await files.download(key);
  assertNoError(downError, 'download');
  assert.equal(await down.text(), '%PDF-1');
  const { data: folders, error: listError } = await files.list('unicode');
  assertNoError(listError, 'list');
  assert.deepEqual(folders.map((o) => o.name), ['café']);
  const { data: listed } = await files.list('unicode/café');
  assert.deepEqual(listed.map((o) => o.name), ['résumé 履歴書 😀.pdf']);

  const { data: signed, error: signError } = await files.createSignedUrl(key, 60, { download: 'final version.pdf' });
  assertNoError(signError, 'createSignedUrl');
  const response = await fetch(signed.signedUrl);
  assert.equal(response.status, 200, signed.signedUrl);
  assert.equal(await response.text(), '%PDF-1');
  assert.equal(
    response.headers.get('content-disposition'),
    "attachment; filename=\"final version.pdf\"; filename*=UTF-8''final%20version.pdf",
  );
  // supabase-js runs encodeURI over a signed URL's already encoded query, so a non-ASCII download
  // name arrives encoded twice (against Supabase too); a public URL carries it as it is.
  const pub = admin().storage.from(PUBLIC);
  assertNoError((await pub.upload(key, new Blob(['%PDF-1']))).error, 'upload (public)');
  const { data: url } = pub.getPublicUrl(key, { download: 'résumé.pdf' });
  const named = await fetch(url.publicUrl);
  assert.equal(named.status, 200, url.publicUrl);
  assert.equal(
    named.headers.get('content-disposition'),
    "attachment; filename=r_sum_.pdf; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf",
  );
  const { data: many, error: manyError } = await files.createSignedUrls([key], 60);
  assertNoError(manyError, 'createSignedUrls');
  assert.equal(await (await fetch(many[0].signedUrl)).text(), '%PDF-1');
});
