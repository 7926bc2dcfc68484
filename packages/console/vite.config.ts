import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The console is served by keyfob itself; in development, `npm run dev -w packages/console`
// proxies the API to a keyfob on :8080.
export default defineConfig({
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false },
  server: {
    proxy: { '/api': 'http://localhost:8080', '/oauth': 'http://localhost:8080', '/.well-known': 'http://localhost:8080' },
  },
});
