// Compiles src/ to dist/ (JavaScript and .d.ts) with the TypeScript of the repository the package is built in.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';

const here = new URL('.', import.meta.url);
rmSync(new URL('dist', here), { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: here, stdio: 'inherit' });
