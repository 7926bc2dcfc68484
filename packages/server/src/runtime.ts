import type { Config } from './config/config.js';
import { createContainer, type Container, type ContainerOptions } from './container.js';
import { lockDataDir } from './db/data-dir-lock.js';

/**
 * Opens the store the way a process should: with SQLite, the data-folder lock is taken first and
 * released when the container closes. Used by `keyfob serve` and every CLI command that touches
 * the database.
 */
export async function openContainer(config: Config, options: ContainerOptions = {}): Promise<Container> {
  const release = config.database.kind === 'sqlite' ? lockDataDir(config.dataDir) : () => {};
  try {
    const container = await createContainer(config, options);
    const close = container.close.bind(container);
    return Object.assign(container, {
      close: async () => {
        try {
          await close();
        } finally {
          release();
        }
      },
    });
  } catch (error) {
    release();
    throw error;
  }
}
