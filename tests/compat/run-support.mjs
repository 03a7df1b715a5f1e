// Small jobs for tests/compat/run that are awkward in bash. Usage:
//   node run-support.mjs create-db <server url> <name>   creates database <name>, prints its URL
//   node run-support.mjs drop-db <server url> <name>     drops it (closing leftover connections)
//   node run-support.mjs free-port                       prints a free TCP port on 127.0.0.1
//   node run-support.mjs wait-ready <base url> <pid> <seconds>
//                                                        waits for GET /ready = 200 while <pid> lives
//   node run-support.mjs secret <length>                 prints a random [A-Za-z0-9_-] string

import { randomBytes } from 'node:crypto';
import pg from 'pg';

import { freePort } from './helpers.mjs';

const [command, ...args] = process.argv.slice(2);

function withDatabase(serverUrl, name) {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

const quoteIdent = (name) => `"${name.replaceAll('"', '""')}"`;

async function onServer(serverUrl, sql) {
  const pgClient = new pg.Client({ connectionString: serverUrl });
  await pgClient.connect();
  try {
    for (const statement of [sql].flat()) await pgClient.query(statement);
  } finally {
    await pgClient.end();
  }
}

async function createDb(serverUrl, name) {
  await onServer(serverUrl, `create database ${quoteIdent(name)}`);
  console.log(withDatabase(serverUrl, name));
}

async function dropDb(serverUrl, name) {
  try {
    await onServer(serverUrl, `drop database if exists ${quoteIdent(name)} with (force)`);
  } catch (error) {
    if (error.code !== '42601') throw error; // PostgreSQL < 13 has no WITH (FORCE)
    await onServer(serverUrl, [
      `select pg_terminate_backend(pid) from pg_stat_activity where datname = '${name.replaceAll("'", "''")}'`,
      `drop database if exists ${quoteIdent(name)}`,
    ]);
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitReady(baseUrl, pid, seconds) {
  const deadline = Date.now() + seconds * 1000;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (!alive(pid)) throw new Error(`the server (pid ${pid}) exited before it was ready`);
    try {
      const res = await fetch(`${baseUrl}/ready`, { signal: AbortSignal.timeout(2000) });
      last = `${res.status} ${(await res.text()).slice(0, 300)}`;
      if (res.status === 200) return;
    } catch (error) {
      last = error.cause?.code ?? error.message;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`GET ${baseUrl}/ready did not answer 200 within ${seconds} s (last: ${last})`);
}

function secret(length) {
  return randomBytes(length).toString('base64url').slice(0, length);
}

try {
  switch (command) {
    case 'create-db':
      await createDb(args[0], args[1]);
      break;
    case 'drop-db':
      await dropDb(args[0], args[1]);
      break;
    case 'free-port':
      console.log(await freePort());
      break;
    case 'wait-ready':
      await waitReady(args[0], Number(args[1]), Number(args[2]));
      break;
    case 'secret':
      console.log(secret(Number(args[0] ?? 48)));
      break;
    default:
      throw new Error(`unknown command ${command}`);
  }
} catch (error) {
  console.error(`run-support ${command}: ${error.message}`);
  process.exit(1);
}
