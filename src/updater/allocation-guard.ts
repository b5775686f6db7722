/**
 * Running out of memory is an error, also where the platform throws none. Espruino stops the code
 * running when an allocation fails and whatever awaited it goes on with `undefined`: a chunk
 * buffer never allocated, a digest never computed, a state text cut short would otherwise end
 * in "updated" and a torn state file. So once the platform reports a failed allocation, no state
 * is written and a write it cut short fails: the update fails with OUT_OF_MEMORY and is retried
 * later, and the store keeps its last complete state.
 *
 * Until what holds the memory is freed, the board may also drop callbacks: a promise settled then
 * may never call its `then`, a socket event may never come. So a run is watched by a timer armed
 * before it starts, and waits for a report only so long: both settle when their callbacks are lost.
 */
import { otaError, type OtaError, type OtaStage } from '../errors.js';
import type { Clock, Platform, StateStore } from '../platform/interfaces.js';

/** How a watched operation ended: its value or error, and whether memory ran out meanwhile. */
export interface Outcome<T> {
  value?: T;
  error?: unknown;
  /** Memory ran out while it ran (then `value` and `error` may both be missing: it never ended). */
  ranOut: boolean;
}

/** A state store that refuses writes after a failed allocation, and watches for lost callbacks. */
export interface AllocationGuard {
  state: StateStore;
  /**
   * Forgets failures from before an operation began (the application's own, say). `run` is a
   * check's state, whose `stage` names where a refused write happened; without it, a boot step.
   */
  begin(run?: { stage: OtaStage }): void;
  /** True when an allocation failed since the last call (or the last state write). */
  ranOut(): boolean;
  /**
   * Runs `op` and settles with how it ended. Once memory runs out, `stop` is called (the run is
   * lost anyway) and the outcome is delivered at a later timer tick, when what held the memory has
   * been freed: as soon as `op` has settled, or after {@link GRACE_MS} if its callbacks were lost.
   */
  watch<T>(op: () => Promise<T>, stop: () => void): Promise<Outcome<T>>;
  /** `p`, or rejects after `ms` when it has not settled by then (its callbacks may be lost). */
  within<T>(p: Promise<T>, ms: number, what: string): Promise<T>;
}

/** How often a watched run looks at the platform's flag. */
const POLL_MS = 500;
/** How long a run that ran out of memory is given to end by itself. */
const GRACE_MS = 10000;

/** Guards `platform.state` with `platform.allocationFailed`; a no-op where the platform has none. */
export function allocationGuard(platform: Pick<Platform, 'state' | 'allocationFailed'> & { clock?: Clock }): AllocationGuard {
  const inner = platform.state;
  const failed = platform.allocationFailed;
  if (failed === undefined) return { state: inner, begin() {}, ranOut: () => false, watch: (op) => settled(op), within: (p) => p };
  // Without a clock (a bare store), runs are not watched.
  const clock = platform.clock || null;
  // A failure the watch has read (reading the platform's flag clears it) that ranOut() has not.
  let seen = false;
  // Memory ran out since begin(): the run under way is lost, and writes nothing more while watched.
  let lost = false;
  let watching = false;
  // The check under way (its stage moves on), or undefined in a boot step.
  let during: { stage: OtaStage } | undefined;
  const ranOut = () => {
    const was = failed() || seen;
    seen = false;
    if (was) lost = true;
    return was;
  };
  const check = (name: string) => {
    if (ranOut() || (lost && watching)) throw outOfMemory(during ? during.stage : 'boot', name + ' not written');
  };
  return {
    state: {
      async read(name) {
        // A failure from before (the application's own) is kept for ranOut(), not blamed on this read.
        if (failed()) seen = true;
        const text = await inner.read(name);
        // A read cut short hands back whatever the board had (Espruino goes on with `undefined`
        // or a part); parsing that while memory is still out trips the interpreter itself
        // (JSON.parse, jswrap_json.c): counted as not done.
        if (failed()) {
          seen = true;
          lost = true;
          throw outOfMemory(during ? during.stage : 'boot', name + ' not read');
        }
        return text;
      },
      remove: (name) => inner.remove(name),
      async write(name, text) {
        check(name);
        await inner.write(name, text);
        // Checked again: a write that ran out of memory may not have happened at all.
        check(name);
      },
    },
    begin(run) {
      during = run;
      failed();
      seen = false;
      lost = false;
    },
    ranOut,
    watch<T>(op: () => Promise<T>, stop: () => void): Promise<Outcome<T>> {
      if (clock === null) return settled(op);
      return new Promise((resolve) => {
        let outcome: Outcome<T> | null = null;
        let since = -1;
        let cancel: () => void = () => {};
        watching = true;
        const deliver = (o: Outcome<T>) => {
          cancel();
          watching = false;
          // Told by the outcome: what is written after it (the check record) is not refused for it.
          if (o.ranOut) seen = false;
          resolve(o);
        };
        // Re-armed first: the poll is the one callback that must keep coming.
        const poll = () => {
          cancel = clock.setTimer(poll, POLL_MS);
          if (failed()) {
            seen = true;
            lost = true;
          }
          if (!lost) return;
          if (outcome !== null) return deliver({ value: outcome.value, error: outcome.error, ranOut: true });
          if (since < 0) {
            since = clock.now();
            stop();
          } else if (clock.now() - since >= GRACE_MS) deliver({ ranOut: true });
        };
        cancel = clock.setTimer(poll, POLL_MS);
        settled(op).then((o) => {
          if (failed()) {
            seen = true;
            lost = true;
          }
          // Ran out meanwhile: the next poll delivers it, once the memory is back.
          if (lost) outcome = o;
          else deliver(o);
        });
      });
    },
    within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
      if (clock === null) return p;
      return new Promise((resolve, reject) => {
        const cancel = clock.setTimer(() => reject(otaError('NETWORK', 'report', what + ' did not end within ' + ms / 1000 + ' s', { retryable: true })), ms);
        p.then(
          (v) => {
            cancel();
            resolve(v);
          },
          (e) => {
            cancel();
            reject(e);
          },
        );
      });
    },
  };
}

/** How `op` ended, as an outcome (nothing ran out). */
function settled<T>(op: () => Promise<T>): Promise<Outcome<T>> {
  let p: Promise<T>;
  try {
    p = op();
  } catch (e) {
    return Promise.resolve({ error: e, ranOut: false });
  }
  return p.then(
    (value): Outcome<T> => ({ value, ranOut: false }),
    (error): Outcome<T> => ({ error, ranOut: false }),
  );
}

/** The error of an update during which memory ran out. */
export function outOfMemory(stage: OtaStage, what: string): OtaError {
  return otaError('OUT_OF_MEMORY', stage, 'the device ran out of memory (' + what + ')', { retryable: true });
}
