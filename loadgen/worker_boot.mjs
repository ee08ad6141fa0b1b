// Entry of a loadgen worker thread. Registers tsx in this thread (the parent
// may run under tsx, vitest or plain node) and loads the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
