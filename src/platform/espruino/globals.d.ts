/** The parts of Espruino's globals the adapters use. */
declare const E: {
  toUint8Array(data: string | Uint8Array | number[]): Uint8Array;
  toArrayBuffer(data: string): ArrayBuffer;
  toString(...data: (string | Uint8Array | number[])[]): string;
  reboot(): void;
  CRC32(data: Uint8Array): number;
  /** Reads and clears the interpreter's error flags ("MEMORY": an allocation failed). */
  getErrorFlags(): string[];
};
/** Espruino's flash file store. */
interface EspruinoStorage {
  read(name: string, offset?: number, length?: number): string | undefined;
  readJSON(name: string, noExceptions?: boolean): unknown;
  write(name: string, data: string | Uint8Array, offset?: number, size?: number): boolean;
  writeJSON(name: string, data: unknown): boolean;
  erase(name: string): void;
  getFree(): number;
}
declare function require(name: 'Storage'): EspruinoStorage;
declare function require(name: 'http'): EspruinoHttp;
/** Espruino's HTTP client. */
interface EspruinoHttp {
  request(
    options: { host: string; port?: number; path: string; method: string; protocol: string; headers: Record<string, string> },
    callback: (res: EspruinoResponse) => void,
  ): { on(event: 'error', f: (e: unknown) => void): void; write(data: string): void; end(): void };
}
declare function require(name: 'crypto'): { SHA256(data: string | Uint8Array): ArrayBuffer };
interface EspruinoResponse {
  statusCode: string;
  headers: Record<string, string>;
  on(event: 'data', f: (chunk: string) => void): void;
  on(event: 'close' | 'end', f: () => void): void;
  on(event: 'error', f: (e: unknown) => void): void;
}
/** A module in Storage, by name (the Espruino build's own files). */
declare function require(name: string): unknown;
/** Espruino's module cache. */
declare const Modules: { removeCached(name: string): void };
