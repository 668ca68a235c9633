#!/usr/bin/env node
// The `curio` command. It runs the compiled CLI (built by `npm install` through the prepare script); with
// CURIO_FROM_SOURCE=1, or when no build exists yet, it runs the TypeScript sources through tsx.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const compiled = `${root}dist/main/cli/main.js`;
let entry;
if (process.env.CURIO_FROM_SOURCE !== '1' && existsSync(compiled)) {
  entry = pathToFileURL(compiled).href;
} else {
  try {
    const { register } = await import('tsx/esm/api');
    register();
  } catch {
    process.stderr.write('curio: no build found (dist/) and tsx is not installed; run `npm run build` first\n');
    process.exit(1);
  }
  entry = pathToFileURL(`${root}main/cli/main.ts`).href;
}
const { runCli } = await import(entry);
const code = await runCli(process.argv.slice(2));
process.exitCode = code;
