/**
 * IoTaaP's remote "Flash" button over MQTT (MQTT.js): any message on the trigger topic asks for
 * an update now; answers go to the response topic as `{"code": N}`. The connection is separate
 * from downloads, so it stays up during an update; it reconnects with exponential backoff.
 * MQTT.js is loaded on `start` only: it adds ~14 MiB of RSS to the agent (59 -> 73), which devices
 * without a trigger should not pay.
 */
import { networkErrorText } from './system-error.js';
import type { MqttClient } from 'mqtt';
import type { OtaConfig } from '../../config/config.js';
import type { Logger, RemoteTrigger, StateStore } from '../interfaces.js';

/** Where and how to listen. */
export interface MqttTriggerOptions {
  url: string;
  username: string;
  password: string;
  triggerTopic: string;
  responseTopic: string;
}

/** Where the trigger's connection state is kept for `ota device status` (another process). */
export const TRIGGER_STATUS = 'trigger.json';

/** The trigger's connection, as `ota device status` shows it. */
export interface TriggerStatus {
  state: 'listening' | 'refused' | 'reconnecting';
  url: string;
  /** Why it is not listening: the broker's refusal or the connection error. */
  reason?: string;
  /** When this state began (ISO 8601). */
  since: string;
}

/** CONNACK codes of a broker refusing the credentials (MQTT 3.1.1: 4, 5; MQTT 5: 134, 135). */
const REFUSALS = [4, 5, 134, 135];

/** Reconnect backoff bounds. */
const RECONNECT_MIN_MS = 1000;
const RECONNECT_MAX_MS = 60 * 1000;

/** The trigger a configuration asks for: on when `mqtt_user` and `mqtt_server` are set. */
export function mqttOptions(c: OtaConfig): MqttTriggerOptions | undefined {
  if (c.mqtt_user === '' || c.mqtt_server === '') return undefined;
  const base = '/' + c.mqtt_user;
  return {
    url: (c.secure_conn ? 'mqtts://' : 'mqtt://') + c.mqtt_server + ':' + c.mqtt_port,
    username: c.mqtt_user,
    password: c.mqtt_pass,
    triggerTopic: c.group_id ? base + '/groups/' + c.group_id + '/update-trigger' : base + '/devices/' + c.device_id + '/update-trigger',
    responseTopic: base + '/devices/' + c.device_id + '/update-response',
  };
}

/** Creates the MQTT trigger; it connects on `start`, and records its connection state in `state`. */
export function mqttTrigger(o: MqttTriggerOptions, logger: Logger, state?: StateStore): RemoteTrigger {
  let client: Promise<MqttClient | null> | null = null;
  return {
    start(onTrigger) {
      if (client) return;
      client = import('mqtt').then(
        ({ default: mqtt }) => connect(mqtt.connect, o, logger, onTrigger, state),
        (e: Error) => {
          logger.log('ERROR', 'MQTT trigger unavailable: cannot load MQTT.js (' + e.message + ')');
          return null;
        },
      );
    },
    async stop() {
      const c = client;
      client = null;
      const connected = c ? await c : null;
      if (connected) await connected.endAsync();
      if (state) await state.remove(TRIGGER_STATUS);
    },
  };
}

function connect(mqttConnect: typeof import('mqtt').connect, o: MqttTriggerOptions, logger: Logger, onTrigger: Parameters<RemoteTrigger['start']>[0], state?: StateStore): MqttClient {
  let delay = RECONNECT_MIN_MS;
  let last = '';
  const record = (s: TriggerStatus['state'], reason?: string) => {
    if (s + reason === last) return;
    last = s + reason;
    const status: TriggerStatus = { state: s, url: o.url, reason, since: new Date().toISOString() };
    if (state) state.write(TRIGGER_STATUS, JSON.stringify(status)).catch(() => undefined);
  };
  // A broker refusing the credentials is retried like a lost connection (MQTT.js would give up
  // for good): the password may be fixed on the broker's side, and the process must live on.
  const c = mqttConnect(o.url, { username: o.username, password: o.password || undefined, reconnectPeriod: delay, connectTimeout: 10000, reconnectOnConnackError: true });
  c.on('connect', () => {
    delay = RECONNECT_MIN_MS;
    c.options.reconnectPeriod = delay;
    c.subscribe(o.triggerTopic, { qos: 1 }, (e) => {
      // Said once the broker acknowledged the subscription: from then on no request is lost.
      if (e) logger.log('ERROR', 'MQTT subscribe to ' + o.triggerTopic + ' failed: ' + e.message);
      else {
        logger.log('INFO', 'MQTT connected to ' + o.url + '; waiting for update requests on ' + o.triggerTopic);
        record('listening');
      }
    });
  });
  c.on('close', () => {
    // Exponential backoff between reconnects, with jitter so a fleet does not return at once.
    delay = Math.min(RECONNECT_MAX_MS, delay * 2);
    c.options.reconnectPeriod = Math.round(delay / 2 + (delay / 2) * Math.random());
  });
  c.on('error', (e) => {
    const code = (e as { code?: unknown }).code;
    const refused = typeof code === 'number' && REFUSALS.indexOf(code) >= 0;
    // The network stack's codes (ECONNREFUSED, ENOTFOUND) are said in words; MQTT's own refusals keep their message.
    const why = (typeof code === 'string' ? networkErrorText(code) : null) ?? e.message;
    const retry = '; retrying in ' + Math.round((c.options.reconnectPeriod ?? 0) / 1000) + ' s';
    if (refused) logger.log('ERROR', 'MQTT broker ' + o.url + ' refused the connection: ' + why + ' (check mqtt_user and mqtt_pass)' + retry);
    else logger.log('WARNING', 'MQTT ' + o.url + ': ' + why + retry.replace('retrying', 'reconnecting'));
    record(refused ? 'refused' : 'reconnecting', why);
  });
  c.on('message', (topic) => {
    if (topic !== o.triggerTopic) return;
    onTrigger((code) => {
      c.publish(o.responseTopic, JSON.stringify({ code }), { qos: 1 });
    });
  });
  return c;
}
