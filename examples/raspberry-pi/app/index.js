// A small application that lives in an ota-client slot and keeps itself up to date. The whole
// directory, node_modules included, is published as a bundle (`ota publish --bundle app ...`) and
// unpacked into a slot directory on the board; `ota run` starts this package's `main` there with
// OTA_BOOT_STATE, OTA_VERSION, OTA_CONFIG and OTA_SLOT_PATH set.
const http = require('node:http');
const semver = require('semver'); // a dependency shipped in the bundle's node_modules
const { defaultUpdater } = require('ota-client'); // installed once on the board (NODE_PATH)

const version = process.env.OTA_VERSION;
const updater = defaultUpdater();

const server = http.createServer((req, res) => {
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify({ ok: true, version, line: semver.major(version) + '.x' }));
});

server.listen(Number(process.env.APP_PORT ?? 3000), '127.0.0.1', async () => {
  const { port } = server.address();
  console.log(`app ${version} (${semver.major(version)}.x line) listening on ${port} (${process.env.OTA_BOOT_STATE}) from ${process.env.OTA_SLOT_PATH}`);

  if (process.env.OTA_BOOT_STATE === 'trial') {
    // Our own health check: only a version that serves its endpoint is kept.
    const healthy = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false);
    if (healthy) await updater.confirm();
    else await updater.revert('health endpoint did not answer'); // reboots into the previous version
  }

  updater.on('update-available', ({ version: next }) => console.log(`updating ${version} -> ${next}`));
  // Checks per default.cfg (auto_update, check_interval). After an update the process exits with
  // code 75 and systemd restarts `ota run`, which boots the new version on trial.
  updater.start();
});

process.on('SIGTERM', () => {
  updater.stop();
  server.close(() => process.exit(0));
});
