/** The Espruino build's stand-ins agree with what they replace on Node. */
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config/config.js';
import { isOtaError } from '../src/errors.js';
import type { Platform } from '../src/platform/interfaces.js';
import { ESP32_MAGIC, validateEsp32Image } from '../src/platform/espruino/esp32-image.js';
import { protocolFor } from '../src/platform/espruino/protocols.js';
import { EventEmitter } from '../src/platform/espruino/emitter.js';
import { awaitingConsent, checkDigest, probeSize, watched } from '../src/platform/espruino/left-out.js';

describe('Espruino stand-ins', () => {
  it('the emitter calls listeners in order, once listeners once, and stops calling removed ones', () => {
    const e = new EventEmitter();
    const calls: string[] = [];
    const a = (x: unknown) => calls.push('a' + x);
    e.on('t', a);
    e.once('t', (x) => calls.push('once' + x));
    expect(e.emit('t', 1)).toBe(true);
    e.off('t', a);
    e.emit('t', 2);
    expect(calls).toEqual(['a1', 'once1']);
    expect(e.emit('none')).toBe(false);
  });

  it('the protocol table offers the native protocol and refuses the others by name', () => {
    const platform = {} as Platform;
    const config = (protocol: string) => resolveConfig({ device_id: 'd1', ota_domain: 'http://127.0.0.1:1', protocol }).config;
    expect(typeof protocolFor(config('native'), platform).check).toBe('function');
    for (const name of ['hawkbit', 'iotaap']) {
      let err: unknown = null;
      try {
        protocolFor(config(name), platform);
      } catch (e) {
        err = e;
      }
      expect(isOtaError(err) && err.code === 'CONFIG_INVALID' && err.message.indexOf('"' + name + '"') >= 0, String(err)).toBe(true);
    }
  });

  it('no application byte is taken for an ESP32 image, and an esp32 install is refused', async () => {
    expect(ESP32_MAGIC).toBeLessThan(0); // a byte read from a slot is 0-255
    await expect(validateEsp32Image()).rejects.toMatchObject({ code: 'CONFIG_INVALID', stage: 'install' });
  });

  it('what only hawkBit and IoTaaP reach is refused by name (a native manifest never gets there)', async () => {
    await expect(checkDigest()).rejects.toMatchObject({ code: 'MANIFEST_INVALID', message: expect.stringContaining('SHA-1 or MD5 only (hawkBit) is not in the Espruino build') });
    await expect(probeSize()).rejects.toMatchObject({ code: 'MANIFEST_INVALID', message: expect.stringContaining('unknown size (IoTaaP)') });
    expect(() => awaitingConsent()).toThrow('consent (hawkBit) is not in the Espruino build');
    // No cancel to watch for: the download runs as it is.
    const signal = { aborted: false, addEventListener() {}, removeEventListener() {} };
    await expect(watched(null, signal, async (s) => (s === signal ? 'ran' : 'other'))).resolves.toBe('ran');
  });
});
