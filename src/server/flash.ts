/**
 * The console's Flash button: publishes IoTaaP's update trigger for a device or a group through
 * an MQTT broker and listens to the devices' answers (the topics src/platform/node/mqtt-trigger.ts
 * subscribes and answers on). IoTaaP scopes topics by the broker user: `/{user}/devices/{id}/…`.
 */
import type { MqttClient } from 'mqtt';
import type { Audience } from './release-store.js';

/** The Flash side of an MQTT connection. */
export interface Flasher {
  /** Publishes the trigger (QoS 1); rejects when the broker is not connected. */
  flash(target: Audience): Promise<void>;
  close(): Promise<void>;
}

/** Broker address and topic scope from `mqtt[s]://user:pass@host:port`. */
export function parseBrokerUrl(url: string): { url: string; username: string; password: string } {
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

/** Connects (and keeps reconnecting) to the broker; `onAnswer` hears each device's response code. */
export async function connectFlasher(brokerUrl: string, onAnswer: (device: string, code: number) => void, log: (line: string) => void): Promise<Flasher> {
  const broker = parseBrokerUrl(brokerUrl);
  const { default: mqtt } = await import('mqtt');
  const base = '/' + broker.username;
  const answers = base + '/devices/+/update-response';
  const client: MqttClient = mqtt.connect(broker.url, { username: broker.username, password: broker.password || undefined, reconnectPeriod: 2000, connectTimeout: 10000 });
  client.on('connect', () => {
    client.subscribe(answers, { qos: 1 }, (e) => log(e ? 'console: MQTT subscribe failed: ' + e.message : 'console: MQTT connected to ' + broker.url));
  });
  client.on('error', (e) => log('console: MQTT ' + broker.url + ': ' + e.message));
  client.on('message', (topic, payload) => {
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
  });
  return {
    async flash(target) {
      if (!client.connected) throw new Error('the MQTT broker ' + broker.url + ' is not connected');
      const topic = 'device' in target ? base + '/devices/' + target.device + '/update-trigger' : base + '/groups/' + target.group + '/update-trigger';
      await client.publishAsync(topic, 'flash', { qos: 1 });
    },
    async close() {
      await client.endAsync(true);
    },
  };
}
