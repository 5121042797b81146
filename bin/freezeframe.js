#!/usr/bin/env node
// Runs the compiled CLI (.build/cli/, made by scripts/build-cli.mjs, which scripts/install.sh runs) in this very
// process: no TypeScript compiled per call. Built here first when missing or stale (a fresh clone, an edited
// source), so a call never runs old code.
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { build, isFresh } = await import(pathToFileURL(path.join(root, 'scripts/build-cli.mjs')).href);
if (!isFresh()) build();
// The compiled modules live under .build/cli: the project's root (native/, vendor/) is named for them.
process.env.FREEZEFRAME_ROOT ??= root;
await import(pathToFileURL(path.join(root, '.build/cli/server/cli.js')).href);
