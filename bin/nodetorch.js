#!/usr/bin/env node
// The `nodetorch` command; the implementation lives in lib/cli (compiled to dist/cli).
'use strict';
require('../dist/cli').main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
