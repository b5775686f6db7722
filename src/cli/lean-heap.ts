/**
 * V8 settings of the `ota` process, applied before the rest of the command is evaluated (entry.ts
 * imports this module first; V8 takes its flags into the code cache's check, so the cache is made
 * and used under these). The young generation stays at its first size (1 MiB semi-spaces) instead
 * of doubling while the command loads, 2 MiB less peak RSS during an update for no measurable CPU
 * (`npm run bench`; the update's work is native: socket reads, CRC-32, SHA-256, file writes).
 * `--max-semi-space-size` cannot be set once V8 runs; the growth factor can, and is read at each
 * growth. Sparkplug and TurboFan start off (jit.ts says why and when they come back on).
 */
import { setFlagsFromString } from 'node:v8';
import { compilers } from './jit.js';

setFlagsFromString('--semi-space-growth-factor=1');
compilers(false);
