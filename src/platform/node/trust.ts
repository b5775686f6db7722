/** Ed25519 manifest signatures on Node: trusted keys from PEM files, keygen and signing for `ota`. */
import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { otaError } from '../../errors.js';
import { systemErrorText } from './system-error.js';
import { cryptoModule } from './lazy-modules.js';
import type { Trust } from '../../check/trust.js';

/** Trusts the Ed25519 public keys in these PEM files (several during a key rotation). */
export function nodeTrust(files: string[]): Trust {
  const keys: KeyObject[] = files.map((file) => {
    let key: KeyObject;
    try {
      key = cryptoModule().createPublicKey(readFileSync(file));
    } catch (e) {
      throw otaError('CONFIG_INVALID', 'config', 'public key ' + file + ' ' + (systemErrorText(e) === null ? 'is not a PEM public key (list ota-public.pem from `ota keygen` in public_keys)' : 'cannot be read: ' + systemErrorText(e)));
    }
    if (key.asymmetricKeyType !== 'ed25519') throw otaError('CONFIG_INVALID', 'config', 'public key ' + file + ' is ' + key.asymmetricKeyType + ', not Ed25519');
    return key;
  });
  return {
    keys: keys.length,
    verify(message, signature) {
      const sig = Buffer.from(signature, 'base64');
      if (sig.length !== 64) return false;
      const { verify } = cryptoModule();
      return keys.some((k) => verify(null, Buffer.from(message), k, sig));
    },
  };
}

/** A new Ed25519 key pair as PEM text. */
export function generateKeys(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = cryptoModule().generateKeyPairSync('ed25519');
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** Signs `message` with the Ed25519 private key in a PEM file; base64. */
export function signWith(privateKeyFile: string, message: string): string {
  let key: KeyObject;
  try {
    key = cryptoModule().createPrivateKey(readFileSync(privateKeyFile));
  } catch (e) {
    // OpenSSL's own words ("error:1E08010C:DECODER routines::unsupported") tell a user nothing.
    const why = systemErrorText(e) ?? 'is not a PEM private key (sign with ota-private.pem from `ota keygen`, not the public key)';
    throw otaError('CONFIG_INVALID', 'config', 'signing key ' + (systemErrorText(e) === null ? privateKeyFile + ' ' : '') + why);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw otaError('CONFIG_INVALID', 'config', 'signing key ' + privateKeyFile + ' is ' + key.asymmetricKeyType + ', not Ed25519 (`ota keygen` makes one)');
  return cryptoModule().sign(null, Buffer.from(message), key).toString('base64');
}
