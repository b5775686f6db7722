/**
 * V8 setting of the `ota` process, applied before the rest of the command is evaluated (entry.ts
 * imports this module first): the young generation stays at its first size (1 MiB semi-spaces)
 * instead of doubling while the command loads, 2 MiB less peak RSS during an update for no
 * measurable CPU (`npm run bench`; the update's work is native: socket reads, CRC-32, SHA-256,
 * file writes). `--max-semi-space-size` cannot be set once V8 runs; the growth factor can, and is
 * read at each growth. TurboFan stays on although its first optimization pages in ~3.5 MiB of the
 * node binary: without it a delta's decode took 4.5× the CPU.
 */
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--semi-space-growth-factor=1');
