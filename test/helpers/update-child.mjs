// A device process for power-loss tests: runs one update with the built library and, when told,
// kills itself with SIGKILL right after the download has handed it the byte at offset KILL_AT.
// Args: <ota_domain> <stateDir> <killAt|-> <killedAtFile>
import { writeFileSync } from 'node:fs';
import { createUpdater, nodePlatform } from '../../dist/index.js';

const [url, stateDir, killAtArg, killedAtFile] = process.argv.slice(2);
const killAt = killAtArg === '-' ? Infinity : Number(killAtArg);
const base = nodePlatform({ stateDir }).transport;

const transport = {
  request: (req) => base.request(req),
  stream(req, handlers) {
    let offset = Number(/bytes=(\d+)-/.exec(req.headers?.Range ?? '')?.[1] ?? 0);
    return base.stream(req, {
      onResponse: (status, headers) => {
        if (status === 200) offset = 0;
        return handlers.onResponse(status, headers);
      },
      async onData(piece) {
        const more = await handlers.onData(piece);
        offset += piece.length;
        if (offset >= killAt) {
          writeFileSync(killedAtFile, String(offset));
          process.kill(process.pid, 'SIGKILL');
        }
        return more;
      },
    });
  },
};

const updater = createUpdater({
  config: { ota_domain: url, device_id: 'dev1', firmware_version: '1.0.0', download_timeout: 5 },
  stateDir,
  platform: { transport, reboot: async () => undefined, logger: { log: () => undefined } },
});
const result = await updater.checkForUpdates();
console.log(JSON.stringify(result));
process.exit(result.status === 'updated' ? 0 : 1);
