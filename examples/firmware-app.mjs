// How firmware code on a Node board uses ota-client. Run next to a default.cfg
// (or set OTA_CONFIG=/path/to/default.cfg).
import { checkForUpdates, defaultUpdater } from 'ota-client';

const updater = defaultUpdater();
updater.on('download-progress', ({ received, total }) => console.log(`downloading ${received}/${total}`));
updater.on('rebooting', ({ version }) => console.log(`rebooting into ${version}`));

// Automatic checks when default.cfg says auto_update: true.
updater.start();

// A manual check, e.g. from a button; it never throws for network or server faults.
const result = await checkForUpdates();
if (result.status === 'failed') console.error(result.message);
else console.log(result.status, result.version);
