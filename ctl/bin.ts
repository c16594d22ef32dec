#!/usr/bin/env node
// appctl's executable (package.json's bin): runs the appctl bundle (main.ts) through V8's code cache
// (shared/compile-cache.ts says why and how it is kept safe). Runs as the appctl process.

import { runCachedBundle } from '../shared/compile-cache.js';

// This file runs only as the CommonJS bundle dist/ctl/appctl.cjs (tools/bundle.ts), where Node defines
// require, module and __dirname; appctl-main.cjs sits beside it and resolves its requires from there too.
runCachedBundle({ file: `${__dirname}/appctl-main.cjs`, label: 'appctl', require, module });
