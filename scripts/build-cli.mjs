#!/usr/bin/env node
// Compiles the CLI (server/cli.ts and what it imports) to plain JavaScript in .build/cli/, so that a call runs no
// TypeScript compiler: `freezeframe list` took 0.63 s through tsx, most of it compiling (bench/cli.mts measures it now).
// Transpiled file by file with TypeScript's own transpileModule (no type check: `npx tsc --noEmit` does that), the
// relative imports given their .js, and the 'server-only' marker dropped (it guards the Next.js bundle; plain Node
// would load its throwing entry). Idempotent: nothing is written when no source changed (the manifest records each
// source's size and mtime; bin/freezeframe.js checks the same manifest before every call).
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const buildDir = path.join(root, '.build');
/** A symlink to the current build, swapped in one rename: a CLI starting meanwhile loads one whole build or the other. */
const out = path.join(buildDir, 'cli');
const manifestFile = path.join(out, 'manifest.json');
const entry = 'server/cli.ts';

/** Each source as the manifest records it: what makes a build stale. */
const signature = (file) => {
  const s = statSync(path.join(root, file));
  return `${s.size}:${s.mtimeMs}`;
};

export function isFresh() {
  try {
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8'));
    return Object.entries(manifest.sources).every(([file, sig]) => signature(file) === sig);
  } catch {
    return false;
  }
}

const specifiers = /(\bfrom\s*|\bimport\s*\(?\s*)(['"])(\.{1,2}\/[^'"]+)\2/g;

function resolveSource(fromFile, spec) {
  const base = path.join(path.dirname(fromFile), spec);
  for (const candidate of [`${base}.ts`, `${base}.tsx`, base, path.join(base, 'index.ts')]) {
    if (/\.(ts|tsx|js)$/.test(candidate) && existsSync(path.join(root, candidate))) return candidate;
  }
  throw new Error(`${fromFile}: cannot resolve ${spec}`);
}

export function build() {
  const ts = createRequire(import.meta.url)('typescript');
  const options = { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, isolatedModules: true, sourceMap: false };
  const queue = [entry];
  const sources = {};
  const outputs = new Map();
  while (queue.length) {
    const file = queue.pop();
    if (sources[file]) continue;
    sources[file] = signature(file);
    const source = readFileSync(path.join(root, file), 'utf8');
    const js = file.endsWith('.js') ? source : ts.transpileModule(source, { compilerOptions: options, fileName: file }).outputText;
    const rewritten = js
      .replace(/^import ['"]server-only['"];\n/m, '')
      .replace(specifiers, (whole, lead, quote, spec) => {
        const target = resolveSource(file, spec);
        queue.push(target);
        const rel = path.relative(path.dirname(file), target.replace(/\.tsx?$/, '.js'));
        return `${lead}${quote}${rel.startsWith('.') ? rel : `./${rel}`}${quote}`;
      });
    outputs.set(file.replace(/\.tsx?$/, '.js'), rewritten);
  }
  const name = `cli-${Date.now()}-${randomBytes(3).toString('hex')}`;
  const dir = path.join(buildDir, name);
  for (const [file, js] of outputs) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), js);
  }
  // The addons are loaded relative to the modules (native/*.node from server/desktops/): the same layout here.
  symlinkSync('../../native', path.join(dir, 'native'));
  writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ entry: entry.replace(/\.ts$/, '.js'), sources }, null, 1) + '\n');
  const link = path.join(buildDir, `${name}.link`);
  symlinkSync(name, link);
  renameSync(link, out);
  // Older builds go once no CLI can still be running from them (a restore's modules load lazily, mid-run).
  for (const old of readdirSync(buildDir)) {
    const stamp = Number(/^cli-(\d+)-/.exec(old)?.[1]);
    if (old !== name && stamp && Date.now() - stamp > 3_600_000) rmSync(path.join(buildDir, old), { recursive: true, force: true });
  }
  return outputs.size;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (isFresh() && !process.argv.includes('--force')) {
    console.error('[build-cli] up to date');
  } else {
    const t0 = performance.now();
    const n = build();
    console.error(`[build-cli] ${n} modules to .build/cli in ${Math.round(performance.now() - t0)} ms`);
  }
}
