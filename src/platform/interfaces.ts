import type { Trust } from '../check/trust.js';

/**
 * The small interfaces behind which platform specifics live. The core (everything outside
 * `src/node`, `src/server` and `src/cli`) talks only to these, so it can run on Node and Espruino.
 */

/** An HTTP request. Header names are given as they should be sent. */
export interface HttpRequest {
  url: string;
  method?: 'GET' | 'HEAD' | 'POST' | 'PUT';
  headers?: Record<string, string>;
  body?: string;
  /** For `request`: the whole exchange; for `stream`: the longest silence between two pieces of body. */
  timeoutMs?: number;
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
   * reuses: it is valid until the call returns or its promise settles.
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

/** The two A/B slots. */
export type SlotName = 'a' | 'b';

/** A slot opened for writing. */
export interface SlotWriter {
  write(offset: number, data: Uint8Array): Promise<void>;
  /** Makes everything written so far durable. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** Where firmware images live: two slots, written by offset, read back for verification. */
export interface SlotStorage {
  /** Largest image a slot holds, in bytes; undefined when only free space limits it. */
  capacity(slot: SlotName): number | undefined;
  /** Opens a slot for writing an image of `size` bytes, keeping bytes already there (for resume). */
  open(slot: SlotName, size: number): Promise<SlotWriter>;
  read(slot: SlotName, offset: number, length: number): Promise<Uint8Array>;
  /** Bytes to read at a time when reading a slot back: large enough to be fast, small enough for the device's memory. */
  readSize: number;
  /** Where the slot is, for health checks (a path on Node). */
  locate(slot: SlotName): string;
}

/**
 * Tells the platform's boot mechanism what boot control decided: a `current` link for Node
 * applications, bootloader variables (U-Boot `fw_setenv`) for boards that boot from a raw slot.
 * Called after every saved transition with the new state.
 */
export interface BootSelector {
  apply(state: {
    /** Slot running now. */
    booted: SlotName;
    /** Slot to boot next: the trial slot, else the confirmed one. */
    next: SlotName;
    /** True while `next` is on trial. */
    trial: boolean;
    /** Boot attempts `next` has left before the bootloader should fall back. */
    attemptsLeft: number;
    /** The fallback slot. */
    confirmed: SlotName;
  }): Promise<void>;
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
  /** Runs `fn` after `ms`; returns a function that cancels it. */
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

/** An incremental SHA-256. */
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
  /** CRC-32 (IEEE) of `data` continued from `previous`, unsigned; `crc32.ts` is the portable one. */
  crc32(data: Uint8Array, previous?: number): number;
  /** Restarts the device into the slot the boot state selects. */
  reboot(req: RebootRequest): Promise<void>;
  /** Random number in [0, 1): injected so jitter is deterministic in tests. */
  random(): number;
  /** Remote "update now" requests, when configured. */
  trigger?: RemoteTrigger;
  /** Keys trusted to sign manifests, when configured. */
  trust?: Trust;
}
