#!/usr/bin/env node
// The vlannet command. The program itself is TypeScript compiled to dist/ by `npm run build`.
import { main } from '../dist/src/cli/main.js';
main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
