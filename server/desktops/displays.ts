// Display numbers: each desktop claims one (a file per display in the state folder), free of any other X server.
import 'server-only';
import { access, open, readFile, unlink } from 'node:fs/promises';
import { FreezeframeError } from '../errors';
import type { Paths } from './records';

export class DisplayClaims {
  constructor(
    private readonly paths: Paths,
    private readonly range: { min: number; max: number },
    private readonly isPortFree: (port: number) => Promise<boolean>,
  ) {}

  /** Claims display N for desktop id; false if another desktop holds it. */
  async claim(display: number, id: string): Promise<boolean> {
    const claim = this.paths.displayClaim(display);
    try {
      const handle = await open(claim, 'wx', 0o600);
      try {
        await handle.writeFile(id);
      } finally {
        await handle.close();
      }
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      return (await readFile(claim, 'utf8').catch(() => '')).trim() === id;
    }
  }

  async release(display: number, id: string): Promise<void> {
    const claim = this.paths.displayClaim(display);
    if ((await readFile(claim, 'utf8').catch(() => '')).trim() === id) await unlink(claim).catch(() => {});
  }

  /** The first display of the range no X server uses and no desktop has claimed, now claimed for id. */
  async allocate(id: string): Promise<number> {
    const { min, max } = this.range;
    for (let display = min; display <= max; display++) {
      if (!(await this.isFree(display))) continue;
      if (await this.claim(display, id)) return display;
    }
    throw new FreezeframeError('display_in_use', `no free display in :${min}..:${max}`);
  }

  private async isFree(display: number): Promise<boolean> {
    const exists = (file: string) => access(file).then(() => true, () => false);
    if (await exists(`/tmp/.X${display}-lock`)) return false;
    if (await exists(`/tmp/.X11-unix/X${display}`)) return false;
    return (await this.isPortFree(5900 + display)) && (await this.isPortFree(6000 + display));
  }
}
