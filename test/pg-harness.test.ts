// The PostgreSQL test harness itself: a real server starts, answers, and leaves nothing behind once stopped.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { test } from 'node:test';
import postgres from 'postgres';
import { startPostgres } from './pg-harness.js';

function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

test('startPostgres runs a real server on a free loopback port; stop() ends it and removes its directory', async () => {
  const cluster = await startPostgres();
  const dir = cluster.psql('SHOW data_directory');
  try {
    const sql = postgres(cluster.url, { max: 1 });
    const [row] = await sql`SELECT current_database() AS db, current_setting('listen_addresses') AS listen`;
    await sql.end();
    assert.deepEqual({ ...row }, { db: 'offload', listen: '127.0.0.1' });
    const other = cluster.createDatabase('second');
    assert.match(other, /\/second$/);
  } finally {
    cluster.stop();
  }
  assert.equal(existsSync(dir.trim()), false, 'the cluster directory is removed');
  assert.equal(await portAccepts(cluster.port), false, 'nothing listens on its port any more');
});
