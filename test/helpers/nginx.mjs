// Debian's nginx serving one directory on 127.0.0.1: the static host of test/nginx.test.ts and the
// server every contender of the peer benches meets. Plain JavaScript, as the benches run on Node
// without a TypeScript loader (nginx.d.mts types it for the tests).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => spawnSync(p, ['-v']).status === 0);

function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Starts nginx on `root`; resolves to `{ url, stop }` once it answers. */
export async function startNginx(root) {
  if (!NGINX) throw new Error('nginx is not installed (apt-get install -y nginx; .ci/run installs it)');
  const dir = mkdtempSync(join(tmpdir(), 'ota-nginx-'));
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  // sendfile as Debian's own nginx.conf has it.
  writeFileSync(
    conf,
    `${process.getuid?.() === 0 ? 'user root;' : ''}
daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 64; }
http {
  access_log off;
  sendfile on;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  server { listen 127.0.0.1:${port}; root ${root}; default_type application/octet-stream; }
}
`,
  );
  const child = spawn(NGINX, ['-c', conf, '-p', dir], { stdio: 'inherit' });
  const exited = new Promise((r) => child.once('exit', r));
  // TERM, not KILL: the master then stops its worker too. Its configuration, pid file and logs go with it.
  const stop = () => (child.kill('SIGTERM'), exited).then(() => rmSync(dir, { recursive: true, force: true }));
  const url = 'http://127.0.0.1:' + port;
  for (let i = 0; i < 100; i++) {
    if (await fetch(url + '/').then(() => true, () => false)) return { url, stop };
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop();
  throw new Error('nginx did not start');
}
