/**
 * The small interfaces behind which platform specifics live (slots and boot selectors have theirs
 * in install/slots.ts and boot/boot-selector.ts). The core talks only to these, so it runs on
 * Node (platform/node) and Espruino (platform/espruino).
 */
import type { BootSelector } from '../boot/boot-selector.js';
import type { Trust } from '../check/trust.js';
import type { SlotName, SlotStorage } from '../install/slots.js';

/** An HTTP request. Header names are given as they should be sent. */
export interface HttpRequest {
  url: string;
  method?: 'GET' | 'HEAD' | 'POST' | 'PUT';
  headers?: Record<string, string>;
  body?: string;
  /**
   * For `request`: the whole exchange; for `stream`: the longest silence of the network between two
   * pieces of body. On Node the handler's time does not count; on Espruino a handler busy for longer
   * also fails the exchange, since after an allocation failure a lost handler looks the same.
   */
  timeoutMs?: number;
  /** Ends the exchange early; the transport then rejects. */
  signal?: StopSignal;
}

/** Tells a running exchange or download to stop: the part of the web's AbortSignal the core uses. */
export interface StopSignal {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** A complete, small HTTP response. Header names are lower case. */
export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Callbacks of {@link Transport.stream}. */
export interface StreamHandlers {
  /** Called once; return false to close the connection without reading the body. */
  onResponse(status: number, headers: Record<string, string>): boolean;
  /**
   * Called with each piece of the body, in order. A returned promise holds further reads until it
   * settles (backpressure); resolving to false closes the connection; throwing aborts the stream
   * and rejects `stream` with what was thrown. The piece may be a view of a buffer the transport
   * reuses: it is valid until the call returns or its promise settles. Time the handler holds a
   * piece is not network time: the idle timeout pauses meanwhile (and download_min_rate leaves it out).
   */
  onData(piece: Uint8Array): void | boolean | Promise<void | boolean>;
}

/**
 * HTTP client. Network faults (refused, reset, timeouts) reject with an OtaError of code
 * `NETWORK`; any HTTP status resolves.
 */
export interface Transport {
  request(req: HttpRequest): Promise<HttpResponse>;
  /** Streams a response body; resolves when the body ended or a handler stopped it. */
  stream(req: HttpRequest, handlers: StreamHandlers): Promise<void>;
}

/** Small named state documents (boot state, download journal). `write` must be atomic. */
export interface StateStore {
  read(name: string): Promise<string | null>;
  write(name: string, text: string): Promise<void>;
  remove(name: string): Promise<void>;
}

/** Time source and timers; injected so tests need no real waits. */
export interface Clock {
  /** Milliseconds from a monotonic origin. */
  now(): number;
  /** Wall-clock time, milliseconds since 1970 (for maintenance windows). */
  date(): number;
  /** Runs `fn` after `ms` (any length, past setTimeout's 24.8 days too); returns a function that cancels it. */
  setTimer(fn: () => void, ms: number): () => void;
}

/** Log levels, as IoTaaP OS prints them. */
export type LogLevel = 'INFO' | 'WARNING' | 'ERROR' | 'DEBUG';

/** Where log lines go. */
export interface Logger {
  log(level: LogLevel, message: string): void;
  /** Writes out anything buffered (called before a reboot). */
  flush?(): Promise<void>;
}

/** What fetching an image as a patch or gzip-compressed takes from the platform. */
export interface Transfers {
  /** Where a patch or compressed image is staged (under the slot being written) before it is decoded into that slot. */
  staging: SlotStorage;
  /** A gzip decompressor, for images published gzip-compressed. */
  gunzip?(): Inflater;
  /** Removes what is staged for `slot` (nothing happens when nothing is): nothing will be decoded from it again. */
  discard?(slot: SlotName): Promise<void>;
}

/** A streaming decompressor: the output of what is pushed goes to `onOutput`, in order. */
export interface Inflater {
  push(data: Uint8Array, onOutput: (piece: Uint8Array) => Promise<void>): Promise<void>;
  /** Flushes the rest; throws when the compressed stream is incomplete or corrupt. */
  end(onOutput: (piece: Uint8Array) => Promise<void>): Promise<void>;
}

/** An incremental hash (SHA-256 unless said otherwise). */
export interface Hasher {
  update(data: Uint8Array): void;
  /** Lower-case hex digest. */
  digest(): string;
}

/** What a reboot is told. */
export interface RebootRequest {
  slot: SlotName;
  version: string;
  reason: 'update' | 'revert';
}

/** A channel on which an operator asks for an update now (IoTaaP's "Flash" button, over MQTT on Node). */
export interface RemoteTrigger {
  /** Starts listening; `onTrigger` runs for each request, with a function that answers it with a code. */
  start(onTrigger: (respond: (code: number) => void) => void): void;
  /** Publishes the code of a check that was not asked for remotely (201 updating, 202 same version, 203 none or error). */
  announce?(code: number): void;
  stop(): Promise<void>;
}

/** Everything platform-specific the core needs. */
export interface Platform {
  transport: Transport;
  slots: SlotStorage;
  bootSelector: BootSelector;
  state: StateStore;
  clock: Clock;
  logger: Logger;
  sha256(): Hasher;
  /** SHA-1 or MD5, for servers that publish no SHA-256 (older hawkBit); absent where the platform has none. */
  digest?(algorithm: 'sha1' | 'md5'): Hasher;
  /** CRC-32 (IEEE) of one chunk, unsigned; `download/crc32.ts` is the portable one. */
  crc32(data: Uint8Array): number;
  /** Restarts the device into the slot the boot state selects. */
  reboot(req: RebootRequest): Promise<void>;
  /** Random number in [0, 1): injected so jitter is deterministic in tests. */
  random(): number;
  /** Remote "update now" requests, when configured. */
  trigger?: RemoteTrigger;
  /** Keys trusted to sign manifests, when configured. */
  trust?: Trust;
  /**
   * True when an allocation failed since the previous call. For platforms where running out of
   * memory throws nothing (Espruino stops the code running then, and what awaited it goes on
   * with `undefined`); see `updater/allocation-guard.ts`.
   */
  allocationFailed?(): boolean;
  /** Fetching images as patches or gzip-compressed; without it, only whole images are downloaded. */
  transfers?: Transfers;
  /**
   * Names the operating system's current boot (Linux: `/proc/sys/kernel/random/boot_id`), null
   * when unknown. `confirm()` hashes a trial slot again only when the system restarted since the
   * image was written; without it (Espruino) it always does.
   */
  systemBootId?(): string | null;
}
