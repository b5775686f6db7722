/**
 * IoTaaP's remote "Flash" button over MQTT (mqtt-session.ts): any message on the trigger topic
 * asks for an update now; answers go to the response topic as `{"code": N}`. The connection is
 * separate from downloads, so it stays up during an update; it reconnects with exponential backoff.
 */
import type { OtaConfig } from '../../config/config.js';
import { backoffDelay } from '../../schedule/backoff.js';
import type { Logger, RemoteTrigger, StateStore } from '../interfaces.js';
import { mqttSession, type MqttSession } from './mqtt-session.js';
import { networkErrorText } from './system-error.js';

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

/** CONNACK codes of a broker refusing the credentials (MQTT 3.1.1, section 3.2.2.3). */
const REFUSALS = [4, 5];

/** Reconnect backoff bounds. */
const RECONNECT_MIN_MS = 1000;
const RECONNECT_MAX_MS = 60 * 1000;
/** Keepalive and CONNACK wait, as MQTT.js had them. */
const KEEPALIVE_SECONDS = 60;
const CONNECT_TIMEOUT_MS = 10000;

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

/** Creates the MQTT trigger; it connects on `start`, reconnects until `stop`, and records its connection state in `state`. */
export function mqttTrigger(o: MqttTriggerOptions, logger: Logger, state?: StateStore): RemoteTrigger {
  let running = false;
  let session: MqttSession | null = null;
  let retry: NodeJS.Timeout | undefined;
  let failures = 0;
  let last = '';
  const record = (s: TriggerStatus['state'], reason?: string) => {
    if (s + reason === last) return;
    last = s + reason;
    const status: TriggerStatus = { state: s, url: o.url, reason, since: new Date().toISOString() };
    if (state) state.write(TRIGGER_STATUS, JSON.stringify(status)).catch(() => undefined);
  };

  const open = (onTrigger: Parameters<RemoteTrigger['start']>[0]) => {
    const s = mqttSession(
      { url: o.url, username: o.username, password: o.password, keepaliveSeconds: KEEPALIVE_SECONDS, connectTimeoutMs: CONNECT_TIMEOUT_MS },
      {
        connected() {
          failures = 0;
          s.subscribe(o.triggerTopic, (e) => {
            // Said once the broker acknowledged the subscription: from then on no request is lost.
            if (e) logger.log('ERROR', 'MQTT subscribe to ' + o.triggerTopic + ' failed: ' + e.message);
            else {
              logger.log('INFO', 'MQTT connected to ' + o.url + '; waiting for update requests on ' + o.triggerTopic);
              record('listening');
            }
          });
        },
        message(topic) {
          if (topic === o.triggerTopic) onTrigger((code) => session?.publish(o.responseTopic, JSON.stringify({ code }), 1));
        },
        closed(e) {
          if (session === s) session = null;
          if (!running) return;
          // Exponential backoff between reconnects, with jitter so a fleet does not return at once.
          // A broker refusing the credentials is retried too: the password may be fixed on its side.
          const wait = backoffDelay(RECONNECT_MIN_MS, failures++, RECONNECT_MAX_MS, Math.random());
          const code = e === null ? undefined : (e as { code?: unknown }).code;
          const refused = typeof code === 'number' && REFUSALS.indexOf(code) >= 0;
          // The network stack's codes (ECONNREFUSED, ENOTFOUND) are said in words; MQTT's own refusals keep their message.
          const why = e === null ? 'connection closed' : ((typeof code === 'string' ? networkErrorText(code) : null) ?? e.message);
          if (refused) logger.log('ERROR', 'MQTT broker ' + o.url + ' refused the connection: ' + why + ' (check mqtt_user and mqtt_pass); retrying in ' + Math.round(wait / 1000) + ' s');
          else logger.log('WARNING', 'MQTT ' + o.url + ': ' + why + '; reconnecting in ' + Math.round(wait / 1000) + ' s');
          record(refused ? 'refused' : 'reconnecting', why);
          retry = setTimeout(() => open(onTrigger), wait);
        },
      },
    );
    session = s;
  };

  return {
    start(onTrigger) {
      if (running) return;
      running = true;
      open(onTrigger);
    },
    async stop() {
      running = false;
      clearTimeout(retry);
      const s = session;
      session = null;
      if (s) await s.end();
      if (state) await state.remove(TRIGGER_STATUS);
    },
  };
}
