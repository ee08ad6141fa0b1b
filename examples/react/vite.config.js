import { defineConfig } from 'vite';

// React without a plugin: Vite compiles the JSX (automatic runtime, from react/jsx-runtime).
export default defineConfig({
  oxc: { jsx: { runtime: 'automatic' } },
});
