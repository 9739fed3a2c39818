#!/usr/bin/env node
// Builds the native addon (native/) from source with node-gyp, against the headers of the
// Node that runs this script: nothing is downloaded. Runs as the package's `install`
// script, so `npm ci` builds it. A failed build is reported and leaves the TypeScript
// fallbacks in charge (exit 0), unless NFVKIT_NATIVE_REQUIRED=1 makes it fatal.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = join(root, 'native');
const required = process.env.NFVKIT_NATIVE_REQUIRED === '1';

function fail(message) {
  console.warn(`nfvkit: native addon not built: ${message}`);
  console.warn('nfvkit: falling back to the TypeScript implementations (dgram sockets, worker-thread instances).');
  process.exit(required ? 1 : 0);
}

if (process.env.NFVKIT_NATIVE === '0') fail('NFVKIT_NATIVE=0');
if (process.platform !== 'linux') fail(`the addon is Linux-only (this is ${process.platform})`);

// Node's own headers: the installation prefix of this node binary (include/node/node_api.h).
const nodedir = process.env.npm_config_nodedir || join(dirname(process.execPath), '..');
if (!existsSync(join(nodedir, 'include', 'node', 'node_api.h'))) fail(`no Node headers under ${nodedir}/include/node`);

// npm hands its bundled node-gyp to install scripts; otherwise look for one beside npm.
let gyp = process.env.npm_config_node_gyp;
if (!gyp || !existsSync(gyp)) {
  try {
    gyp = createRequire(join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'package.json')).resolve('node-gyp/bin/node-gyp.js');
  } catch {
    fail('node-gyp not found (it ships with npm)');
  }
}

const started = Date.now();
const r = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${nodedir}`, '--jobs=2'], { cwd: nativeDir, stdio: ['ignore', 'inherit', 'inherit'] });
if (r.status !== 0) fail(`node-gyp exited with ${r.status ?? r.signal}`);
console.log(`nfvkit: native addon built in ${((Date.now() - started) / 1000).toFixed(1)} s (native/build/Release/nfvkit_native.node)`);
