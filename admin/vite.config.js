// Vite config of the agentdesk admin. The Go server serves the built app
// (admin/dist) at /admin/, so every asset URL starts with /admin/.
// `npm run dev` proxies the API to a server on VITE_PROXY (default
// http://127.0.0.1:8080) so the app can be developed against `make run`.
import { defineConfig } from 'vite';

const target = process.env.VITE_PROXY ?? 'http://127.0.0.1:8080';

export default defineConfig({
  base: '/admin/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 4096,
    rolldownOptions: {
      // MUI's "use client" directives mean nothing in a client-only bundle.
      onLog(level, log, handler) {
        if (log.code === 'MODULE_LEVEL_DIRECTIVE') return;
        handler(level, log);
      },
    },
  },
  oxc: { jsx: { runtime: 'automatic', importSource: 'react' } },
  server: {
    proxy: {
      '/api': { target, changeOrigin: false },
      '/auth': { target, changeOrigin: false },
    },
  },
});
