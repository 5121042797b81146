// The HTTP API as the tests use it: every call checks its status, so a test fails where the API did.
import { expect, type APIRequestContext } from '@playwright/test';
import type { CheckpointDetail, DesktopDetail, DesktopRecord, DesktopSummary } from '../../lib/viewTypes';
import type { CheckpointRecord } from '../../server/desktops/records';
import type { Inspection } from '../../server/checkpoints/inspect';

export class Api {
  constructor(private readonly request: APIRequestContext) {}

  async start(body: { geometry?: string; apps?: string[] }): Promise<DesktopRecord> {
    const response = await this.request.post('/api/desktops', { data: body });
    expect(response.status(), await response.text()).toBe(201);
    return (await response.json()).desktop;
  }

  async desktop(id: string): Promise<DesktopDetail> {
    const response = await this.request.get(`/api/desktops/${id}`);
    expect(response.status(), await response.text()).toBe(200);
    return response.json();
  }

  async list(): Promise<DesktopSummary[]> {
    const response = await this.request.get('/api/desktops');
    expect(response.status()).toBe(200);
    return (await response.json()).desktops;
  }

  async checkpoint(id: string, body: { leaveRunning?: boolean } = {}): Promise<CheckpointRecord> {
    const response = await this.request.post(`/api/desktops/${id}/checkpoint`, { data: body });
    expect(response.status(), await response.text()).toBe(201);
    return (await response.json()).checkpoint;
  }

  async checkpointDetail(id: string): Promise<CheckpointDetail> {
    const response = await this.request.get(`/api/checkpoints/${id}`);
    expect(response.status(), await response.text()).toBe(200);
    return (await response.json()).checkpoint;
  }

  /** Stops the desktop; a desktop busy with an operation is asked again until that operation is over. */
  async stop(id: string): Promise<void> {
    await expect
      .poll(async () => (await this.request.post(`/api/desktops/${id}/stop`)).status(), {
        message: `stopping desktop ${id}`,
        timeout: 30_000,
      })
      .toBe(200);
  }

  /** The process tree, files, sockets and memory the checkpoint's images hold. */
  async inspect(id: string): Promise<Inspection> {
    const response = await this.request.get(`/api/checkpoints/${id}/inspect`);
    expect(response.status(), await response.text()).toBe(200);
    return response.json();
  }

  /** The PNG of the screen taken just before the dump. */
  async thumbnail(id: string): Promise<Buffer> {
    const response = await this.request.get(`/api/checkpoints/${id}/thumbnail`);
    expect(response.status()).toBe(200);
    expect(response.headers()['content-type']).toBe('image/png');
    return response.body();
  }

  /** The checkpoint's .tar.zst, checked to be a download named after it. */
  async exportArchive(id: string): Promise<Buffer> {
    const response = await this.request.get(`/api/checkpoints/${id}/export`);
    expect(response.status()).toBe(200);
    expect(response.headers()['content-type']).toBe('application/zstd');
    expect(response.headers()['content-disposition']).toBe(`attachment; filename="${id}.tar.zst"`);
    return response.body();
  }

  async importArchive(archive: Buffer): Promise<{ checkpoint: CheckpointRecord; desktop: DesktopRecord }> {
    const response = await this.request.post('/api/checkpoints/import', { data: archive, headers: { 'Content-Type': 'application/zstd' } });
    expect(response.status(), await response.text()).toBe(201);
    return response.json();
  }

  async deleteCheckpoint(id: string): Promise<number> {
    const response = await this.request.delete(`/api/checkpoints/${id}`);
    expect(response.status(), await response.text()).toBe(200);
    return (await response.json()).bytesFreed;
  }

  /** Removes a stopped desktop with its checkpoints; what it freed. */
  async remove(id: string): Promise<{ desktop: string; checkpoints: string[]; bytesFreed: number; display: number }> {
    const response = await this.request.delete(`/api/desktops/${id}`);
    expect(response.status(), await response.text()).toBe(200);
    return response.json();
  }

  async setRetention(id: string, body: { keepLast?: number | null; maxBytes?: number | null }): Promise<{ removed: string[]; bytesFreed: number }> {
    const response = await this.request.put(`/api/desktops/${id}/retention`, { data: body });
    expect(response.status(), await response.text()).toBe(200);
    return response.json();
  }

  async pin(id: string, pinned: boolean): Promise<CheckpointRecord> {
    const response = await this.request.put(`/api/checkpoints/${id}/pin`, { data: { pinned } });
    expect(response.status(), await response.text()).toBe(200);
    return (await response.json()).checkpoint;
  }

  /** Any call, for tests about statuses and error bodies. */
  raw(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, data?: unknown, headers?: Record<string, string>) {
    return this.request.fetch(path, { method, data, headers });
  }
}
