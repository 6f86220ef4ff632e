import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

// The build is committed (viewer/dist) and rebuilt by `npm run viewer:check` to compare bytes:
// names are content hashes and nothing in the output depends on the machine or the time.
export default defineConfig({
  root,
  base: '/viewer/',
  logLevel: 'warn',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    // a separate file for every asset: the CSP allows no data: scripts or styles
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    rollupOptions: {
      input: { index: `${root}index.html`, story: `${root}story.html` },
      output: {
        entryFileNames: 'assets/[name]-[hash].js',
        chunkFileNames: 'assets/[name]-[hash].js',
        assetFileNames: 'assets/[name]-[hash][extname]',
      },
    },
  },
});
