/**
 * Simulated boards for the power-cut tests, in-process. A board has a disk (a directory holding
 * state documents, slots and the boot loader environment; or, for Espruino, emulated Storage
 * flash), a boot loader (boot-loaders.ts; none where the agent's boot step chooses), and ways to
 * record its disk operations and rebuild the disk a cut leaves. `powerOn` boots it again and
 * again (boot loader, agent boot step, health check, confirm or revert, check for updates) until
 * it settles. The agent is the real one (createUpdater) with real HTTP to `ota serve`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createUpdater } from '../../src/index.js';
import { bootFile } from '../../src/boot/boot0-file.js';
import type { BootSelector } from '../../src/boot/boot-selector.js';
import { initialBootState } from '../../src/boot/boot-state.js';
import { currentLink } from '../../src/boot/current-link.js';
import { grubSelector } from '../../src/boot/grub-env.js';
import { ubootSelector } from '../../src/boot/uboot-env.js';
import { blockSlots, fileSlots } from '../../src/install/file-slots.js';
import type { SlotName } from '../../src/install/slots.js';
import { storageSlots } from '../../src/install/storage-slots.js';
import { storageState } from '../../src/platform/espruino/storage-state.js';
import type { Platform, StateStore } from '../../src/platform/interfaces.js';
import { fileState } from '../../src/platform/node/file-state.js';
import { nodeTransport } from '../../src/platform/node/transport.js';
import { manifestPath, publish } from '../../src/server/release-store.js';
import { grubLoader, ubootLoader, type SimulatedLoader } from './boot-loaders.js';
import { applyFlashOp, copyFlash, emulatedStorage, flashDigest, installE, type Flash, type FlashOp } from './espruino-storage.js';
import { image, serve, sha256, tempDir } from './fixtures.js';
import { crashTree, isCutPoint, readTree, recordingOps, treeDigest, unsyncedOps, writeTree, type CrashKind, type Op, type Tree } from './power-cut.js';

export type Flavour = 'file' | 'uboot' | 'grub' | 'espruino';

/** The versions of one scenario: 1.0.0 on the board, 1.1.0 healthy, 1.2.0 failing its health check. */
export const IMAGES: Record<string, Buffer> = { '1.0.0': image(5000, 99), '1.1.0': image(6144, 11), '1.2.0': image(5120, 12) };
export const CHUNK = 1024;
const SLOT_SIZE = 8192;

/** The version whose image a slot's content starts with, or null. */
export function versionIn(content: Buffer): string | null {
  for (const v of Object.keys(IMAGES)) if (content.length >= IMAGES[v]!.length && content.subarray(0, IMAGES[v]!.length).equals(IMAGES[v]!)) return v;
  return null;
}

/** `ota serve` with both releases published; `offer` chooses which one is the latest. */
export async function releases() {
  const dir = tempDir();
  const manifests: Record<string, string> = {};
  for (const v of ['1.1.0', '1.2.0']) {
    const file = join(tempDir(), v + '.bin');
    writeFileSync(file, IMAGES[v]!);
    await publish({ dir, file, version: v, audience: { device: 'dev1' }, chunkSize: CHUNK });
    manifests[v] = readFileSync(join(dir, manifestPath({ device: 'dev1' })), 'utf8');
  }
  const server = await serve(dir);
  return { url: server.url, offer: (v: string) => writeFileSync(join(dir, manifestPath({ device: 'dev1' })), manifests[v]!) };
}

/** A board: its disk, its boot loader, and the recording and rebuilding of its disk. */
export interface Board {
  flavour: Flavour;
  loader: SimulatedLoader | null;
  /** The agent's disk parts; with `record`, every disk operation (and boot loader write) is logged. */
  parts(record: boolean): Pick<Platform, 'slots' | 'state' | 'bootSelector'>;
  /** The state store, for checking a disk. */
  store(): StateStore;
  /** Digest of the disk as it is now. */
  digest(): string;
  content(slot: SlotName): Buffer;
  /** What runs when the agent's boot step chose `slot` (file slots: what `current` links to). */
  running(slot: SlotName): SlotName;
  /** The operations recorded so far; a cut is placed before each that changes the disk, and after the last. */
  cutPoints(): number[];
  /**
   * The disk a power cut before operation `cut` leaves (null when `kind` does not apply there):
   * its digest, and `restore` to put it in place of the board's disk.
   */
  crash(cut: number, kind: CrashKind): { digest: string; restore(): void } | null;
  /** What operation `cut` is, for messages. */
  describe(cut: number): string;
}

/** A board with 1.0.0 confirmed in slot a. */
export async function makeBoard(flavour: Flavour): Promise<Board> {
  const first = IMAGES['1.0.0']!;
  const boot = Object.assign(initialBootState({ version: '1.0.0', sha256: sha256(first), size: first.length }, 3), { seq: 1 });
  return flavour === 'espruino' ? await espruinoBoard(JSON.stringify(boot)) : nodeBoard(flavour, JSON.stringify(boot));
}

function nodeBoard(flavour: 'file' | 'uboot' | 'grub', bootJson: string): Board {
  const root = tempDir();
  const stateDir = join(root, 'state');
  mkdirSync(stateDir, { recursive: true });
  const first = IMAGES['1.0.0']!;
  let loader: (SimulatedLoader & { config?: string; grubenv?: string }) | null = null;
  const slotPath = (s: SlotName) => (flavour === 'file' ? join(stateDir, 'slots', s + '.bin') : join(root, 'part-' + s));
  if (flavour === 'file') {
    mkdirSync(join(stateDir, 'slots'));
    writeFileSync(slotPath('a'), first);
  } else {
    const a = Buffer.alloc(SLOT_SIZE);
    first.copy(a);
    writeFileSync(slotPath('a'), a);
    writeFileSync(slotPath('b'), Buffer.alloc(SLOT_SIZE));
    if (flavour === 'uboot') {
      const u = ubootLoader(root);
      execFileSync('fw_setenv', ['-c', u.config, '-f', join(root, 'uboot.defaults'), '-s', '-'], { input: 'BOOT_ORDER=A B\nBOOT_A_LEFT=3\nBOOT_B_LEFT=0\n' });
      loader = u;
    } else {
      const g = grubLoader(root);
      execFileSync('grub-editenv', [g.grubenv, 'set', 'ORDER=A B', 'A_OK=1', 'A_TRY=0', 'B_OK=0', 'B_TRY=0']);
      loader = g;
    }
  }
  writeFileSync(join(stateDir, 'boot.json'), bootJson);
  const initial: Tree = readTree(root);
  const log: Op[] = [];
  let recording = false;
  const recordEnv = () => {
    for (const path of loader!.envFiles) log.push({ op: 'external', path, data: readFileSync(path) });
  };
  return {
    flavour,
    loader: loader && {
      ...loader,
      boot() {
        const slot = loader!.boot();
        if (recording) recordEnv();
        return slot;
      },
    },
    parts(record) {
      recording = record;
      const ops = record ? recordingOps(log) : unsyncedOps;
      const slots = flavour === 'file' ? fileSlots(join(stateDir, 'slots'), undefined, ops) : blockSlots({ a: slotPath('a'), b: slotPath('b') }, SLOT_SIZE, ops);
      let selector: BootSelector;
      if (flavour === 'file') selector = currentLink(stateDir, slots, ops);
      else if (flavour === 'uboot') selector = ubootSelector({ config: loader!.config, cmdline: loader!.cmdline });
      else selector = grubSelector({ grubenv: loader!.grubenv!, cmdline: loader!.cmdline });
      // fw_setenv and grub-editenv write the environment themselves: recorded as durable once they exit.
      const bootSelector: BootSelector = Object.assign({}, selector, {
        async apply(state: Parameters<BootSelector['apply']>[0]) {
          await selector.apply(state);
          if (record && loader) recordEnv();
        },
      });
      return { slots, state: fileState(stateDir, ops), bootSelector };
    },
    store: () => fileState(stateDir),
    digest() {
      // What decides how the board goes on: not the command line (rewritten at every boot), leftover
      // temporary files, the boot state's write counter or how the environment is laid out.
      const tree = readTree(root);
      for (const name of [...tree.keys()]) if (name === 'cmdline' || name.endsWith('.tmp') || (loader && loader.envFiles.some((f) => f.endsWith('/' + name)))) tree.delete(name);
      const boot = JSON.parse(tree.get('state/boot.json')!.toString());
      delete boot.seq;
      // Every power-on is a new system boot (powerOn): the one an image was installed in never comes again.
      for (const image of [boot.slots.a, boot.slots.b]) if (image) delete image.system_boot_id;
      tree.set('state/boot.json', Buffer.from(JSON.stringify(boot)));
      if (loader) tree.set('env', Buffer.from(JSON.stringify(Object.entries(loader.env()).sort())));
      return treeDigest(tree);
    },
    content: (s) => (existsSync(slotPath(s)) ? readFileSync(slotPath(s)) : Buffer.alloc(0)),
    running: (s) => (flavour === 'file' ? (readlinkSync(join(stateDir, 'current')).endsWith('b.bin') ? 'b' : 'a') : s),
    cutPoints: () => log.map((o, i) => (isCutPoint(o) ? i : -1)).filter((i) => i >= 0).concat([log.length]),
    crash(cut, kind) {
      const tree = crashTree(root, initial, log, cut, kind);
      return tree && { digest: treeDigest(tree), restore: () => writeTree(root, tree) };
    },
    describe: (cut) => (log[cut] ? log[cut]!.op + ' ' + ('path' in log[cut]! ? (log[cut] as { path: string }).path.slice(root.length + 1) : '') : 'end'),
  };
}

async function espruinoBoard(bootJson: string): Promise<Board> {
  const log: FlashOp[] = [];
  let flash: Flash = new Map();
  const seed = emulatedStorage(flash, null);
  seed.write('ota.a', IMAGES['1.0.0']!);
  installE();
  // The state as the adapter writes it, so that the board starts from its own format.
  await storageState(seed).write('boot.json', bootJson);
  const initial = copyFlash(flash);
  return {
    flavour: 'espruino',
    loader: null,
    parts(record) {
      const storage = emulatedStorage(flash, record ? log : null);
      // The board's one-shot SHA-256 (`require("crypto")`) is not emulated: the image is hashed as it arrives, with Node's.
      const slots = Object.assign(storageSlots(storage), { sha256: undefined });
      return { slots, state: storageState(storage), bootSelector: bootFile(storage) };
    },
    store: () => storageState(emulatedStorage(flash, null)),
    digest: () => flashDigest(flash),
    content(s) {
      const f = flash.get('ota.' + s);
      return f ? Buffer.from(f) : Buffer.alloc(0);
    },
    running: (s) => s,
    cutPoints: () => log.map((_o, i) => i).concat([log.length]),
    crash(cut, kind) {
      if (kind === 'cache') return null; // flash has no page cache
      if (kind === 'torn' && log[cut]?.op !== 'program') return null;
      const after = copyFlash(initial);
      for (let i = 0; i < cut; i++) applyFlashOp(after, log[i]!);
      if (kind === 'torn') applyFlashOp(after, log[cut]!, 0.5);
      return { digest: flashDigest(after), restore: () => void (flash = after) };
    },
    describe: (cut) => (log[cut] ? log[cut]!.op + ' ' + log[cut]!.name : 'end'),
  };
}

/** Boots of the operating system so far, in all runs: a power cut always starts a new one. */
let systemBoots = 0;

/** What one power-on sequence did. */
export interface Run {
  /** Per boot: the version that came up ('-' when nothing did). */
  boots: string[];
  /** Image bytes received from the server, per version. */
  fetched: Record<string, number>;
  /** The agent's log, for failure messages. */
  lines: string[];
  status: Awaited<ReturnType<ReturnType<typeof createUpdater>['status']>>;
}

/** What `powerOn` needs besides the board. */
export interface PowerOnOptions {
  server: { url: string; offer(v: string): void };
  /** Record the disk operations of this run. */
  record?: boolean;
  /**
   * Drop the connection twice at this byte of the 1.1.0 image: the download resumes once, makes
   * no progress, gives up (download_retries 1), and the next check resumes from what the slot holds.
   */
  cutAt?: number;
  /** Versions whose kernel does not come up (the agent never runs on them). */
  panics?: string[];
  settings?: Record<string, unknown>;
  maxBoots?: number;
  /**
   * Outcomes of earlier runs by the disk at the start of a boot: a board that reaches a disk seen
   * before goes on exactly as it did then (everything else is deterministic), so the run ends there.
   */
  memo?: Map<string, { status: Run['status']; fetched: Record<string, number> }>;
}

/**
 * Powers the board on until it settles: each boot runs the boot loader, then (if the slot comes
 * up) the agent's boot step, confirms a healthy trial or reverts an unhealthy one (1.2.0), and
 * checks for updates (1.1.0 offered while 1.0.0 runs, then 1.2.0), rebooting after an install.
 * A check that fails is repeated (twice at most), as the scheduler would.
 */
export async function powerOn(board: Board, o: PowerOnOptions): Promise<Run> {
  const lines: string[] = [];
  const fetched: Record<string, number> = {};
  const boots: string[] = [];
  let drops = o.cutAt === undefined ? 0 : 2;
  const base = nodeTransport();
  const transport: Platform['transport'] = {
    request: (req) => base.request(req),
    stream(req, handlers) {
      const v = Object.keys(IMAGES).find((k) => req.url.includes(sha256(IMAGES[k]!)));
      let at = Number((req.headers?.Range ?? 'bytes=0-').slice(6, -1));
      return base.stream(req, {
        onResponse: handlers.onResponse,
        async onData(piece) {
          if (v) fetched[v] = (fetched[v] ?? 0) + piece.length;
          const cut = o.cutAt ?? 0;
          if (v === '1.1.0' && drops > 0 && at + piece.length >= cut) {
            const keep = cut - at;
            drops--;
            if (keep > 0) await handlers.onData(piece.subarray(0, keep));
            return false; // the connection drops
          }
          at += piece.length;
          return handlers.onData(piece);
        },
      });
    },
  };
  const unusedDir = tempDir(); // the agent's disk parts are the board's; nothing is written here
  const starts: { digest: string; fetched: Record<string, number> }[] = [];
  const settle = (status: Run['status']): Run => {
    for (const st of o.memo ? starts : []) {
      const after: Record<string, number> = {};
      for (const v of Object.keys(fetched)) after[v] = fetched[v]! - (st.fetched[v] ?? 0);
      o.memo!.set(st.digest, { status, fetched: after });
    }
    return { boots, fetched, lines, status };
  };
  for (let n = 0; n < (o.maxBoots ?? 40); n++) {
    if (o.memo) {
      const digest = board.digest();
      const known = o.memo.get(digest);
      if (known) {
        for (const v of Object.keys(known.fetched)) fetched[v] = (fetched[v] ?? 0) + known.fetched[v]!;
        return settle(known.status);
      }
      starts.push({ digest, fetched: Object.assign({}, fetched) });
    }
    let slot: SlotName | null = null;
    if (board.loader) {
      slot = board.loader.boot();
      const ran = slot === null ? null : versionIn(board.content(slot));
      if (ran === null || (o.panics ?? []).includes(ran)) {
        boots.push('-'); // nothing bootable, or the kernel panics: the agent never runs, the watchdog resets the board
        continue;
      }
    }
    let rebooting = false;
    // A new boot id for every power-on, as Linux's boot_id; Espruino has none (not the Node platform's).
    const systemBoot = 'boot-' + ++systemBoots;
    const bootId = { systemBootId: board.flavour === 'espruino' ? undefined : () => systemBoot };
    const updater = createUpdater({
      config: Object.assign({ ota_domain: o.server.url, device_id: 'dev1', firmware_version: '1.0.0', download_timeout: 5, download_retries: 1, download_retry_delay: 0, boot_attempts: 3 }, o.settings),
      stateDir: unusedDir,
      platform: Object.assign(board.parts(o.record === true), { transport, logger: { log: (level: string, m: string) => lines.push(level + ' ' + m) }, reboot: async () => void (rebooting = true) }, bootId),
    });
    const s = await updater.boot();
    const running = slot ?? board.running(s.slot);
    if (rebooting) {
      boots.push(versionIn(board.content(running)) ?? '?');
      continue;
    }
    const ran = versionIn(board.content(running));
    boots.push(ran ?? '?');
    if (s.slot !== running || s.version !== ran) throw new Error('boot ' + n + ': the agent says ' + s.slot + ' (' + s.version + ') runs, but ' + running + ' (' + ran + ') does\n' + lines.join('\n'));
    if (s.state === 'trial') {
      if (ran === '1.2.0') {
        await updater.revert('health check failed');
        continue;
      }
      await updater.confirm();
    }
    o.server.offer((await updater.status()).version === '1.0.0' ? '1.1.0' : '1.2.0');
    let r = await updater.checkForUpdates();
    for (let retry = 0; retry < 2 && r.status === 'failed' && r.error.code !== 'IMAGE_REJECTED'; retry++) r = await updater.checkForUpdates();
    if (r.status === 'updated') continue;
    return settle(await updater.status());
  }
  throw new Error('the board did not settle: ' + boots.join(' ') + '\n' + lines.join('\n'));
}
