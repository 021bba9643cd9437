import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'fsm/index': 'src/fsm/index.ts',
    'naming/index': 'src/naming/index.ts',
    'resilience/index': 'src/resilience/index.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  // Shared chunks: one copy of each class across entry points, so instanceof works between them.
  splitting: true,
});
