// The HTTP API: the CLI's operations, validated, with errors as {error:{code,message,…}} and 400/404/409 statuses.
import { expect, test } from './fixtures';

test('the HTTP API validates its input and maps errors to statuses', async ({ api }) => {
  const bad = [
    ['POST', '/api/desktops', { geometry: '10x10' }, 400, 'invalid'],
    ['POST', '/api/desktops', { geometry: '9000x600' }, 400, 'invalid'],
    ['POST', '/api/desktops', { apps: ['netscape'] }, 400, 'invalid'],
    // A string goes as text/plain: JSON endpoints take application/json only (a page of another site could send it).
    ['POST', '/api/desktops', 'not json', 415, 'unsupported_media_type'],
    ['GET', '/api/desktops/d-00000000', undefined, 404, 'not_found'],
    ['GET', '/api/desktops/NOT-AN-ID', undefined, 400, 'invalid'],
    ['POST', '/api/desktops/d-00000000/stop', undefined, 404, 'not_found'],
    ['GET', '/api/checkpoints/c-00000000', undefined, 404, 'not_found'],
    ['POST', '/api/checkpoints/c-00000000/restore', undefined, 404, 'not_found'],
  ] as const;
  for (const [method, path, body, status, code] of bad) {
    const response = await api.raw(method, path, body);
    expect(response.status(), `${method} ${path} ${JSON.stringify(body)}`).toBe(status);
    const { error } = await response.json();
    expect(error).toMatchObject({ code, message: expect.any(String) });
  }
  const malformed = await api.raw('POST', '/api/desktops', 'not json', { 'Content-Type': 'application/json' });
  expect(malformed.status()).toBe(400);
  expect((await malformed.json()).error.code).toBe('invalid');
});

test('checkpoint and restore through the HTTP API, with conflicts as 409', async ({ api, desktop }) => {
  const invalid = await api.raw('POST', `/api/desktops/${desktop.id}/checkpoint`, { leaveRunning: 'yes' });
  expect(invalid.status()).toBe(400);

  // A snapshot (criu --leave-running): a checkpoint, and the desktop runs on.
  const snapshot = await api.checkpoint(desktop.id, { leaveRunning: true });
  expect(snapshot).toMatchObject({ state: 'complete', leaveRunning: true });
  expect((await api.desktop(desktop.id)).desktop.state).toBe('running');

  // Two checkpoints at once: one runs, the other is refused (busy while the first runs, bad_state after it).
  const [a, b] = await Promise.all([
    api.raw('POST', `/api/desktops/${desktop.id}/checkpoint`, {}),
    api.raw('POST', `/api/desktops/${desktop.id}/checkpoint`, {}),
  ]);
  const statuses = [a.status(), b.status()].sort();
  expect(statuses).toEqual([201, 409]);
  const refused = await (a.status() === 409 ? a : b).json();
  expect(['busy', 'bad_state']).toContain(refused.error.code);
  const { checkpoint } = await (a.status() === 201 ? a : b).json();

  const listed = (await api.list()).find((d) => d.id === desktop.id);
  expect(listed?.checkpoints.map((c) => c.id)).toEqual([snapshot.id, checkpoint.id]);

  const detail = await api.checkpointDetail(checkpoint.id);
  expect(detail.state).toBe('complete');
  expect(detail.dumpLog?.lines.join('\n')).toContain('Dumping finished successfully');

  const again = await api.raw('POST', `/api/desktops/${desktop.id}/checkpoint`, {});
  expect(again.status()).toBe(409);
  expect((await again.json()).error.code).toBe('bad_state');

  const restored = await api.raw('POST', `/api/checkpoints/${checkpoint.id}/restore`);
  expect(restored.status(), await restored.text()).toBe(200);
  expect((await restored.json()).restoreMs).toBeGreaterThan(0);
  expect((await api.desktop(desktop.id)).desktop.state).toBe('running');
  const afterRestore = await api.checkpointDetail(checkpoint.id);
  expect(afterRestore.restoreLogs[0]?.lines.join('\n')).toContain('Restore finished successfully');

  // A checkpoint of a running desktop cannot be restored over it, unless it is asked to stop it first.
  const over = await api.raw('POST', `/api/checkpoints/${checkpoint.id}/restore`);
  expect(over.status()).toBe(409);
  const stopFirst = await api.raw('POST', `/api/checkpoints/${checkpoint.id}/restore`, { stopRunning: true });
  expect(stopFirst.status(), await stopFirst.text()).toBe(200);
  expect((await api.desktop(desktop.id)).desktop.state).toBe('running');

  // Deleting a checkpoint frees its images; it is gone afterwards.
  const deleted = await api.raw('DELETE', `/api/checkpoints/${snapshot.id}`);
  expect(deleted.status(), await deleted.text()).toBe(200);
  expect((await deleted.json()).bytesFreed).toBeGreaterThan(0);
  expect((await api.raw('GET', `/api/checkpoints/${snapshot.id}`)).status()).toBe(404);
});
