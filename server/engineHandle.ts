// The running server's engine, shared with the Next.js side (server actions, route handlers, pages).
// Next.js bundles its server code apart from server/main.ts, so a module-level singleton would exist twice;
// the engine is handed over on globalThis instead, under a key no one else uses.
import 'server-only';
import type { Engine } from './engine';

const key = Symbol.for('freezeframe.engine');
type Holder = { [key]?: Engine };

export function setEngine(engine: Engine): void {
  (globalThis as Holder)[key] = engine;
}

export function getEngine(): Engine {
  const engine = (globalThis as Holder)[key];
  if (!engine) throw new Error('Freezeframe runs through server/main.ts (npm start), not `next start`/`next dev`.');
  return engine;
}
