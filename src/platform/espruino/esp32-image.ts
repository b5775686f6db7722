/**
 * Stands in for `esp32-image.ts` in the Espruino build: an Espruino board updates its
 * JavaScript application, and no JavaScript API there can install an ESP32 firmware image.
 */
import { otaError } from '../../errors.js';

/** No byte matches: an application slot is never taken for an ESP32 image. */
export const ESP32_MAGIC = -1;

export function validateEsp32Image(): Promise<void> {
  return Promise.reject(otaError('CONFIG_INVALID', 'install', 'image_format "esp32" cannot be installed by the Espruino build, which updates the JavaScript application; the running application is untouched'));
}
