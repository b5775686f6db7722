// `ota serve` in its own process, as a device meets it; `log()` returns its lines so far (the
// Range requests among them).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../dist/cli.cjs', import.meta.url));

export async function startServer(dir) {
  const child = spawn(process.execPath, [cli, 'serve', '--dir', dir, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let text = '';
  const url = await new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error('ota serve exited with ' + code)));
    child.stdout.on('data', (d) => {
      text += d;
      const m = /listening on (\S+)/.exec(text);
      if (m) resolve(m[1]);
    });
  });
  return { url, log: () => text.split('\n'), stop: () => child.kill() };
}
