/**
 * The console's Flash button: publishes IoTaaP's update trigger for a device or a group through
 * an MQTT broker and listens to the devices' answers (the topics src/platform/node/mqtt-trigger.ts
 * subscribes and answers on). IoTaaP scopes topics by the broker user: `/{user}/devices/{id}/…`.
 * It speaks through the agent's own MQTT session (mqtt-session.ts), so that the project carries
 * one MQTT client.
 */
import { keptConnection } from '../platform/node/mqtt-session.js';
import { connectionEndText } from '../platform/node/system-error.js';
import type { Audience } from './release-store.js';

/** The Flash side of an MQTT connection. */
export interface Flasher {
  /** Publishes the trigger (QoS 1), resolved by the broker's PUBACK; rejects when the broker is not connected or the connection ends first. */
  flash(target: Audience): Promise<void>;
  close(): Promise<void>;
}

/** Broker address and topic scope from `mqtt[s]://user:pass@host:port`. */
function parseBrokerUrl(url: string): { url: string; username: string; password: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error('--mqtt ' + JSON.stringify(url) + ' is not a URL (expected mqtt://user:pass@host:port)');
  }
  if (u.protocol !== 'mqtt:' && u.protocol !== 'mqtts:') throw new Error('--mqtt must start with mqtt:// or mqtts://');
  const username = decodeURIComponent(u.username);
  // The user names the topic tree: without one there is no topic a device listens on.
  if (username === '' || username.includes('/') || username.includes('+') || username.includes('#')) throw new Error('--mqtt needs the broker user that scopes the devices\' topics (mqtt://user:pass@host:port)');
  return { url: u.protocol + '//' + u.host, username, password: decodeURIComponent(u.password) };
}

/** Fixed wait between reconnects: one console, so no fleet to spread out. */
const RECONNECT_MS = 2000;
/** Keepalive and CONNACK wait (MQTT.js's defaults, which the console used before). */
const KEEPALIVE_SECONDS = 60;
const CONNECT_TIMEOUT_MS = 10000;

/** Connects (and keeps reconnecting) to the broker; `onAnswer` hears each device's response code. */
export function connectFlasher(brokerUrl: string, onAnswer: (device: string, code: number) => void, log: (line: string) => void): Flasher {
  const broker = parseBrokerUrl(brokerUrl);
  const base = '/' + broker.username;
  const answers = base + '/devices/+/update-response';
  /** Flashes waiting for their PUBACK, failed when their connection ends first. */
  let waiting: ((e: Error) => void)[] = [];
  const connection = keptConnection(
    { url: broker.url, username: broker.username, password: broker.password, keepaliveSeconds: KEEPALIVE_SECONDS, connectTimeoutMs: CONNECT_TIMEOUT_MS },
    () => RECONNECT_MS,
    {
      connected(s) {
        s.subscribe(answers, (e) => log(e ? 'console: MQTT subscribe failed: ' + e.message : 'console: MQTT connected to ' + broker.url));
      },
      message(topic, payload) {
        const parts = topic.split('/');
        // ['', user, 'devices', id, 'update-response']
        if (parts.length !== 5 || parts[4] !== 'update-response') return;
        let code: unknown;
        try {
          code = (JSON.parse(payload.toString('utf8')) as { code?: unknown }).code;
        } catch {
          return;
        }
        if (typeof code === 'number' && Number.isInteger(code)) onAnswer(parts[3]!, code);
      },
      closed(e, wait) {
        const lost = waiting;
        waiting = [];
        for (const fail of lost) fail(new Error('the connection to the MQTT broker ' + broker.url + ' ended before it acknowledged the trigger'));
        if (wait === null) return;
        log('console: MQTT ' + broker.url + ': ' + connectionEndText(e, '--mqtt') + '; reconnecting in ' + wait / 1000 + ' s');
      },
    },
  );

  return {
    flash(target) {
      // Publishing before CONNACK is not allowed.
      const s = connection.live();
      if (s === null) return Promise.reject(new Error('the MQTT broker ' + broker.url + ' is not connected'));
      const topic = 'device' in target ? base + '/devices/' + target.device + '/update-trigger' : base + '/groups/' + target.group + '/update-trigger';
      // Resolved by the broker's PUBACK (QoS 1): the trigger is then the broker's to deliver.
      return new Promise<void>((resolve, reject) => {
        const entry = (e: Error) => reject(e);
        waiting.push(entry);
        s.publish(topic, 'flash', 1, () => {
          waiting = waiting.filter((w) => w !== entry);
          resolve();
        });
      });
    },
    close: () => connection.end(),
  };
}
