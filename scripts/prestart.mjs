// Before `npm start`: compile the server (incremental, fast when nothing changed) and build the
// console only when its bundle is missing, so a fresh clone starts with one command.
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';

execSync('npx tsc -b packages/server', { stdio: 'inherit' });
if (!existsSync(new URL('../packages/console/dist/index.html', import.meta.url))) {
  execSync('npm run build -w packages/console', { stdio: 'inherit' });
}
