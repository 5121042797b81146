#!/usr/bin/env node
// Runs server/cli.ts with tsx and the 'server-only' shim, from wherever it is called.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { createRequire } from 'node:module';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const tsx = path.join(path.dirname(require.resolve('tsx/package.json')), 'dist/esm/index.mjs');
const result = spawnSync(
  process.execPath,
  ['--import', tsx, '--import', path.join(root, 'server/runtime/register.js'), path.join(root, 'server/cli.ts'), ...process.argv.slice(2)],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
