import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// GraphiQL's stylesheet embeds Roboto and Fira Code as base64 @font-face rules (~360 kB);
// drop them so the committed build stays small (the page falls back to system fonts).
const stripGraphiqlFonts = {
  name: 'strip-graphiql-fonts',
  enforce: 'pre',
  transform(code, id) {
    if (!/graphiql[\\/]dist[\\/]style\.css$/.test(id)) return null;
    return { code: code.replace(/@font-face\s*\{[^}]*\}/g, ''), map: null };
  },
};

// The gateway serves the page at `/` and `/playground`, and the files below at
// `/playground/assets/<name>`: fixed names, one script, one stylesheet.
export default defineConfig({
  base: '/playground/',
  plugins: [react(), stripGraphiqlFonts],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsInlineLimit: 100_000,
    cssCodeSplit: false,
    modulePreload: false,
    sourcemap: false,
    chunkSizeWarningLimit: 1500, // one file on purpose
    rollupOptions: {
      output: {
        entryFileNames: 'assets/playground.js',
        chunkFileNames: 'assets/playground.js',
        assetFileNames: 'assets/playground[extname]',
        inlineDynamicImports: true,
      },
    },
  },
});
