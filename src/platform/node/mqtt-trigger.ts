/**
 * IoTaaP's remote "Flash" button over MQTT (mqtt-session.ts): any message on the trigger topic
 * asks for an update now; answers go to the response topic as `{"code": N}`. The connection is
 * separate from downloads, so it stays up during an update; it reconnects with exponential backoff.
 * As IoTaaP OS (src/mqtt/mqtt_client.cpp), the client id is the device id and TLS trusts the CA
 * file. Codes are published for every check, local ones included, so the console always shows
 * the last result (IoTaaP OS answers remote requests only).
 */
import { readFileSync } from 'node:fs';
import type { OtaConfig } from '../../config/config.js';
import { backoffDelay } from '../../schedule/backoff.js';
import { isoTime } from '../../text/iso-time.js';
import type { Logger, RemoteTrigger, StateStore } from '../interfaces.js';
import { keptConnection, type KeptConnection } from './mqtt-session.js';
import { connectionEndText } from './system-error.js';

/** Where and how to listen. */
export interface MqttTriggerOptions {
  url: string;
  /** The MQTT client id: the device id, as IoTaaP OS connects. */
  clientId: string;
  /** CA certificate file (PEM) for mqtts://, instead of the system's. */
  caFile?: string;
  /** TLS client certificate and key files (PEM). */
  clientCert?: string;
  clientKey?: string;
  /** Said when the connection fails: a TLS setting that does not match the port, if any. */
  mismatch?: string;
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
    clientId: c.device_id,
    caFile: c.ca_file || undefined,
    clientCert: c.client_cert || undefined,
    clientKey: c.client_key || undefined,
    mismatch: tlsMismatch(c.secure_conn, c.mqtt_port),
    username: c.mqtt_user,
    password: c.mqtt_pass,
    triggerTopic: c.group_id ? base + '/groups/' + c.group_id + '/update-trigger' : base + '/devices/' + c.device_id + '/update-trigger',
    responseTopic: base + '/devices/' + c.device_id + '/update-response',
  };
}

/**
 * The TLS/port mismatch, if any: 8883 is MQTT over TLS and 1883 plain MQTT (IANA). IoTaaP OS's
 * default.cfg has port 8883 and, before v5.0, no `secure_conn` key (TLS was always on); since
 * v5.0 a missing `secure_conn` means plain MQTT, which a TLS port drops.
 */
export function tlsMismatch(secure: boolean, port: number): string | undefined {
  if (!secure && port === 8883) return 'mqtt_port 8883 is the MQTT-over-TLS port but secure_conn is false: set "secure_conn": true (IoTaaP OS before 5.0 used TLS without that key), or use port 1883';
  if (secure && port === 1883) return 'mqtt_port 1883 is the plain MQTT port but secure_conn is true: set "secure_conn": false, or use port 8883';
  return undefined;
}

/** Creates the MQTT trigger; it connects on `start`, reconnects until `stop`, and records its connection state in `state`. */
export function mqttTrigger(o: MqttTriggerOptions, logger: Logger, state?: StateStore): RemoteTrigger {
  let connection: KeptConnection | null = null;
  let last = '';
  const record = (s: TriggerStatus['state'], reason?: string) => {
    if (s + reason === last) return;
    last = s + reason;
    const status: TriggerStatus = { state: s, url: o.url, reason, since: isoTime(Date.now()) };
    if (state) state.write(TRIGGER_STATUS, JSON.stringify(status)).catch(() => undefined);
  };
  // Only on an accepted connection: nothing may precede CONNACK (MQTT 3.1.1, 3.1). A code due while
  // reconnecting is dropped (the next check's is published).
  const publish = (code: number) => connection?.live()?.publish(o.responseTopic, JSON.stringify({ code }), 1);

  return {
    start(onTrigger) {
      if (connection) return;
      if (o.mismatch) logger.log('WARNING', 'MQTT ' + o.url + ': ' + o.mismatch);
      connection = keptConnection(
        {
          url: o.url,
          username: o.username,
          password: o.password,
          keepaliveSeconds: KEEPALIVE_SECONDS,
          connectTimeoutMs: CONNECT_TIMEOUT_MS,
          clientId: o.clientId,
          tls: { ca: o.caFile ? readFileSync(o.caFile) : undefined, cert: o.clientCert ? readFileSync(o.clientCert) : undefined, key: o.clientKey ? readFileSync(o.clientKey) : undefined },
        },
        // Exponential backoff between reconnects, with jitter so a fleet does not return at once.
        (failures) => backoffDelay(RECONNECT_MIN_MS, failures, RECONNECT_MAX_MS, Math.random()),
        {
          connected(s) {
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
            if (topic === o.triggerTopic) onTrigger(publish);
          },
          closed(e, wait) {
            if (wait === null) return;
            // A broker refusing the credentials is retried too: the password may be fixed on its side.
            const code = e === null ? undefined : (e as { code?: unknown }).code;
            const refused = typeof code === 'number' && REFUSALS.indexOf(code) >= 0;
            const why = connectionEndText(e, { host: 'mqtt_server', port: 'mqtt_port' });
            if (refused) logger.log('ERROR', 'MQTT broker ' + o.url + ' refused the connection: ' + why + ' (check mqtt_user and mqtt_pass); retrying in ' + Math.round(wait / 1000) + ' s');
            else logger.log('WARNING', 'MQTT ' + o.url + ': ' + why + (o.mismatch ? ' (' + o.mismatch + ')' : '') + '; reconnecting in ' + Math.round(wait / 1000) + ' s');
            record(refused ? 'refused' : 'reconnecting', why);
          },
        },
      );
    },
    announce: publish,
    async stop() {
      const c = connection;
      connection = null;
      if (c) await c.end();
      if (state) await state.remove(TRIGGER_STATUS);
    },
  };
}
