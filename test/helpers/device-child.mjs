// A simulated board for power-loss tests of the slot writer and boot control: every start is a
// boot (a trial slot is confirmed), then one check-and-update, then the reboot into the new slot.
// Every write, sync, state write and boot-selector change is an operation; with KILL_AT = n the
// process SIGKILLs itself just before operation n. Prints {"ops": <count>, "status": ...} at the end.
// Args: <ota_domain> <stateDir> <killAt|->
import { createUpdater, nodePlatform } from '../../dist/index.js';

const [url, stateDir, killAtArg] = process.argv.slice(2);
const killAt = killAtArg === '-' ? Infinity : Number(killAtArg);
let ops = 0;
const op = () => {
  if (++ops === killAt) process.kill(process.pid, 'SIGKILL');
};

const base = nodePlatform({ stateDir });
const slots = {
  ...base.slots,
  async open(slot, size) {
    const w = await base.slots.open(slot, size);
    return {
      write: (offset, data) => (op(), w.write(offset, data)),
      sync: () => (op(), w.sync()),
      close: () => w.close(),
    };
  },
};
const state = { ...base.state, write: (name, text) => (op(), base.state.write(name, text)) };
const bootSelector = { apply: (s) => (op(), base.bootSelector.apply(s)) };

let rebooted = Promise.resolve();
const updater = createUpdater({
  config: { ota_domain: url, device_id: 'dev1', download_timeout: 5 },
  stateDir,
  platform: {
    slots,
    state,
    bootSelector,
    logger: { log: () => undefined },
    reboot: async () => {
      rebooted = boot();
      await rebooted;
    },
  },
});

async function boot() {
  const s = await updater.boot();
  if (s.state === 'trial') await updater.confirm();
}

await boot();
const result = await updater.checkForUpdates();
if (result.status === 'updated') {
  while ((await updater.status()).pending !== null || (await updater.status()).state === 'trial') await new Promise((r) => setTimeout(r, 5));
  await rebooted;
}
console.log(JSON.stringify({ ops, result: result.status, status: await updater.status() }));
