#!/usr/bin/env node
// Checks (--check) or rewrites (--fix) native/ with the clang-format binary from npm.
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.resolve(__dirname, '..');
const bin = require.resolve('clang-format/index.js', { paths: [root] });
const files = fs.readdirSync(path.join(root, 'native')).filter((f) => /\.(cc|h)$/.test(f)).map((f) => path.join('native', f));
const fix = process.argv.includes('--fix');
const args = fix ? ['-i', ...files] : ['--dry-run', '--Werror', ...files];
const r = spawnSync(process.execPath, [bin, '--style=file', ...args], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
