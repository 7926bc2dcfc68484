#!/usr/bin/env node
// Thin launcher so that `npx keyfob` works from the repository root once `npm install` has built dist/.
import { runCli } from '../dist/cli/index.js';

await runCli(process.argv);
