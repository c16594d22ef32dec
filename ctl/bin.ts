#!/usr/bin/env node
// appctl's executable (package.json's bin): runs the appctl bundle (main.ts) through V8's code cache
// (shared/compile-cache.ts says why and how it is kept safe). Runs as the appctl process.

import { runCachedBundle } from '../shared/compile-cache.js';
import { plainStatusOptions } from './plain-status.js';

// A cache holds what the run that wrote it compiled, and is not written again while V8 takes it. A plain
// status (answered in the bundle itself) and every other command (through commander's program) compile
// different functions of it: one cache per route, or a first `appctl --version` would leave every later
// status compiling its client, codec and renderer on each run (a 41 KB cache against 82 KB).
const label = plainStatusOptions(process.argv.slice(2)) === null ? 'appctl' : 'appctl-status';

// This file runs only as the CommonJS bundle dist/ctl/appctl.cjs (tools/bundle.ts), where Node defines
// require, module and __dirname; appctl-main.cjs sits beside it and resolves its requires from there too.
runCachedBundle({ file: `${__dirname}/appctl-main.cjs`, label, require, module });
