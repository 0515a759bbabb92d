// Bundles the command line into dist/main.js: its own modules and commander inlined, the client package left as the
// dependency it is (the sources import the client by its path in this repository; the bundle by its name).
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

const here = new URL('.', import.meta.url);
rmSync(new URL('dist', here), { recursive: true, force: true });
await build({
  absWorkingDir: here.pathname,
  entryPoints: ['src/main.ts'],
  outfile: 'dist/main.js',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  legalComments: 'eof',
  // commander is CommonJS: its require() of Node's modules needs a require in the ES module.
  banner: { js: "import { createRequire as __careReportsRequire } from 'node:module'; const require = __careReportsRequire(import.meta.url);" },
  logLevel: 'warning',
  plugins: [
    {
      name: 'client-by-name',
      setup(b) {
        b.onResolve({ filter: /\/client\/src\/(index|node)\.ts$/ }, (args) => ({
          path: args.path.endsWith('node.ts') ? '@care-reports/client/node' : '@care-reports/client',
          external: true,
        }));
      },
    },
  ],
});
