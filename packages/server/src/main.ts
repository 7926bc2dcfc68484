import { loadConfig } from './config/load.js';
import { serve } from './serve.js';

// Process entry for `npm start`: the same as `keyfob serve`.
try {
  await serve(loadConfig());
} catch (error) {
  console.error(`keyfob: ${(error as Error).message}`);
  process.exit(1);
}
