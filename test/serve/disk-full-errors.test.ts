import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { GraftError } from '../../src/core/errors.js';
import { httpErrorFor } from '../../src/serve/error-mapping.js';

/** What the system's own calls throw when a disk is full: /dev/full answers every write with ENOSPC. */
async function realEnospc(): Promise<Error> {
  return writeFile('/dev/full', 'x').then(() => expect.fail('/dev/full took a write'), (error: Error) => error);
}

/** SQLite's own full-database error: a database allowed no more pages than it has. */
function realSqliteFull(): Error {
  const db = new Database(':memory:');
  try {
    db.exec('CREATE TABLE t (x TEXT)');
    db.pragma('max_page_count = 2');
    for (;;) db.prepare('INSERT INTO t VALUES (?)').run('x'.repeat(1000));
  } catch (error) {
    return error as Error;
  } finally {
    db.close();
  }
}

describe('a full disk is 507 Insufficient Storage, in the API\'s JSON error shape', () => {
  it.skipIf(!existsSync('/dev/full'))('ENOSPC from a write names the folder the server writes into', async () => {
    const error = await realEnospc();
    expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
    expect(httpErrorFor(error, { storageDir: '/srv/graft-ui' })).toEqual({
      status: 507,
      body: { error: { code: 'INSUFFICIENT_STORAGE', message: expect.stringMatching(/^The disk holding \/srv\/graft-ui is full; free space and retry \(ENOSPC: no space left on device, write\)\.$/), hint: expect.any(String) } },
    });
    // Without a folder to name (the prediction server), it still says what happened.
    expect(httpErrorFor(error).body.error.message).toMatch(/^The server's disk is full; free space and retry \(ENOSPC/);
    // Found as the cause of another error too (a write that names its file).
    expect(httpErrorFor(new Error('Cannot write model.onnx', { cause: error })).status).toBe(507);
  });

  it("SQLite's \"database or disk is full\" (SQLITE_FULL) is the same 507", () => {
    const error = realSqliteFull();
    expect((error as { code?: string }).code).toBe('SQLITE_FULL');
    expect(httpErrorFor(error, { storageDir: '/srv/graft-ui' })).toMatchObject({
      status: 507,
      body: { error: { code: 'INSUFFICIENT_STORAGE', message: expect.stringMatching(/^The disk holding \/srv\/graft-ui is full; free space and retry \(database or disk is full\)\.$/) } },
    });
  });

  it('other failures below Graft stay 500 INTERNAL; Graft\'s own errors keep their codes', () => {
    const eio = Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
    expect(httpErrorFor(eio, { storageDir: '/srv/graft-ui' })).toMatchObject({ status: 500, body: { error: { code: 'INTERNAL' } } });
    expect(httpErrorFor(new GraftError('INVALID_DATASET', 'no images'))).toMatchObject({ status: 400, body: { error: { code: 'INVALID_DATASET' } } });
  });

  it("a 500's body names the request id and nothing of the fault (no server path); the message is for the log only", () => {
    const eio = Object.assign(new Error('EIO: i/o error, write /srv/graft-ui/dashboard.sqlite'), { code: 'EIO' });
    expect(httpErrorFor(eio, { requestId: 'req-7' })).toEqual({
      status: 500,
      body: { error: { code: 'INTERNAL', message: "Internal error; the server's log has the details under request id req-7." } },
      logMessage: 'EIO: i/o error, write /srv/graft-ui/dashboard.sqlite',
    });
    // Graft's own server faults alike (their messages name the server's folders); a 4xx keeps its message.
    const broken = httpErrorFor(new GraftError('INVALID_MODEL_DIR', '/srv/models/bees has no graft.json', { hint: 'retrain it' }), { requestId: 'req-8' });
    expect(broken).toEqual({ status: 500, body: { error: { code: 'INVALID_MODEL_DIR', message: "Internal error; the server's log has the details under request id req-8." } }, logMessage: '/srv/models/bees has no graft.json' });
    expect(httpErrorFor(new GraftError('INVALID_DATASET', 'no images in /data/x'), { requestId: 'req-9' }).body.error.message).toBe('no images in /data/x');
  });
});
