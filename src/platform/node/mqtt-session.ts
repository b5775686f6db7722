/**
 * One MQTT 3.1.1 connection (OASIS MQTT Version 3.1.1, 2014), with just what the remote trigger
 * and the console's Flash (src/server/flash.ts) use: CONNECT with a clean session, SUBSCRIBE at
 * QoS 1, PUBLISH at QoS 0 or 1 (incoming QoS 1 messages are acknowledged, the broker's PUBACKs
 * reported), PINGREQ keepalive, DISCONNECT. Written here instead of using MQTT.js: MQTT.js kept
 * an idle agent ~25 MiB larger (74 MiB against 48 MiB without a trigger).
 * A session ends once, with `closed`; {@link keptConnection} opens a new one after each end.
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { cryptoModule, tlsModule } from './lazy-modules.js';

/** Where to connect and as whom. */
export interface MqttSessionOptions {
  /** mqtt://host:port or mqtts://host:port */
  url: string;
  username: string;
  password: string;
  /** Seconds between PINGREQs; the connection is dropped when one goes unanswered until the next. */
  keepaliveSeconds: number;
  /** Longest wait for the broker's CONNACK. */
  connectTimeoutMs: number;
  /** The client id (IoTaaP OS connects with its device id); a random one when empty. */
  clientId?: string;
  /** mqtts: a CA to trust instead of the system's, and a client certificate and key (PEM). */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
}

/** What a session reports. */
export interface MqttSessionEvents {
  /** The broker accepted the connection. */
  connected(): void;
  /** An application message arrived. */
  message(topic: string, payload: Buffer): void;
  /** The connection is over: `error` says why (with the CONNACK return code as `code` when refused), null after `end()`. Called once. */
  closed(error: Error | null): void;
}

/** An open session. */
export interface MqttSession {
  /** Subscribes at QoS 1; `done` gets null once the broker granted it, else the reason (not called when the connection ends first). */
  subscribe(topic: string, done: (error: Error | null) => void): void;
  /**
   * Publishes at QoS 0 or 1. At QoS 1, `acked` is called once the broker's PUBACK arrives (not
   * called when the connection ends first, nor at QoS 0); nothing is resent.
   */
  publish(topic: string, payload: string, qos: 0 | 1, acked?: () => void): void;
  /** Sends DISCONNECT and closes; resolves once the socket is closed. */
  end(): Promise<void>;
}

// Control packet types (section 2.2.1).
const CONNECT = 1;
const CONNACK = 2;
const PUBLISH = 3;
const PUBACK = 4;
const SUBSCRIBE = 8;
const SUBACK = 9;
const PINGREQ = 12;
const PINGRESP = 13;
const DISCONNECT = 14;

/** CONNACK return codes 1-5 (section 3.2.2.3), worded as MQTT.js words them. */
const REFUSALS = ['', 'Unacceptable protocol version', 'Identifier rejected', 'Server unavailable', 'Bad username or password', 'Not authorized'];

/** Largest packet accepted from the broker: trigger messages are a few bytes. */
const MAX_PACKET_BYTES = 64 * 1024;

function utf8(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.allocUnsafe(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

/** A packet: fixed header (type, flags, remaining length as a variable-length integer) and body. */
function packet(type: number, flags: number, body: Buffer[]): Buffer {
  const rest = Buffer.concat(body);
  const head = [(type << 4) | flags];
  let n = rest.length;
  do {
    let digit = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) digit |= 128;
    head.push(digit);
  } while (n > 0);
  return Buffer.concat([Buffer.from(head), rest]);
}

function u16(n: number): Buffer {
  const b = Buffer.allocUnsafe(2);
  b.writeUInt16BE(n);
  return b;
}

/** Opens a session; `events.closed` is called once, whatever happens. */
export function mqttSession(o: MqttSessionOptions, events: MqttSessionEvents): MqttSession {
  return new Session(o, events);
}

/** What a kept connection reports. */
export interface KeptConnectionEvents {
  /** The broker accepted a connection: `session` is {@link KeptConnection.live} until it closes (subscribe here). */
  connected(session: MqttSession): void;
  message(topic: string, payload: Buffer): void;
  /**
   * A session ended, `error` saying why (as {@link MqttSessionEvents.closed}); `retryMs` is the wait
   * before the next one, null after {@link KeptConnection.end} (no next one).
   */
  closed(error: Error | null, retryMs: number | null): void;
}

/** A connection kept up by reconnecting. */
export interface KeptConnection {
  /** The session the broker accepted, or null while (re)connecting: nothing is sent before CONNACK. */
  live(): MqttSession | null;
  /** Stops reconnecting and ends the session; resolves once its socket is closed. */
  end(): Promise<void>;
}

/**
 * Opens a session now and a new one after each end, `retryMs(failures)` later (`failures`: ends
 * since the broker last accepted a connection, 0 for the first), until `end()`. The agent's
 * trigger and the console's Flash both keep their broker connection this way.
 */
export function keptConnection(o: MqttSessionOptions, retryMs: (failures: number) => number, events: KeptConnectionEvents): KeptConnection {
  let running = true;
  let session: MqttSession | null = null;
  let live: MqttSession | null = null;
  let retry: NodeJS.Timeout | undefined;
  let failures = 0;
  const open = () => {
    const s = mqttSession(o, {
      connected() {
        failures = 0;
        live = s;
        events.connected(s);
      },
      message: (topic, payload) => events.message(topic, payload),
      closed(e) {
        if (session === s) session = null;
        if (live === s) live = null;
        if (!running) return events.closed(e, null);
        const wait = retryMs(failures++);
        events.closed(e, wait);
        retry = setTimeout(open, wait);
      },
    });
    session = s;
  };
  open();
  return {
    live: () => live,
    async end() {
      running = false;
      clearTimeout(retry);
      const s = session;
      session = null;
      if (s) await s.end();
    },
  };
}

/**
 * One connection's protocol, a method per step: connect (CONNECT, then CONNACK starts the
 * keep-alive), the packet read loop, one handler per packet type the broker sends, and the
 * client's own SUBSCRIBE/PUBLISH with their acknowledgements matched by packet identifier.
 */
class Session implements MqttSession {
  private readonly socket: Socket;
  /** Bytes received and not yet taken as a whole packet. */
  private input: Buffer = Buffer.alloc(0);
  /** The broker sent a CONNACK accepting the connection. */
  private accepted = false;
  /** `end()` was called: the close is the caller's, reported as null. */
  private ended = false;
  /** The first reason the connection failed, reported by `closed`; undefined while none. */
  private closedWith: Error | null | undefined;
  private lastId = 0;
  private awaitingPong = false;
  private readonly connectTimer: NodeJS.Timeout;
  private pinger: NodeJS.Timeout | undefined;
  /** SUBSCRIBEs waiting for their SUBACK, by packet identifier. */
  private readonly subscriptions: Record<number, (error: Error | null) => void> = {};
  /** QoS 1 publications waiting for their PUBACK, by packet identifier. */
  private readonly publications: Record<number, () => void> = {};

  constructor(
    private readonly o: MqttSessionOptions,
    private readonly events: MqttSessionEvents,
  ) {
    const url = new URL(o.url);
    const secure = url.protocol === 'mqtts:';
    const port = Number(url.port) || (secure ? 8883 : 1883);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    // SNI carries host names only (RFC 6066 section 3; Node's DEP0123 for an IP): an IP is still checked against the certificate.
    const socket: Socket = secure ? tlsModule().connect(Object.assign({ host, port, servername: isIP(host) ? undefined : host }, o.tls)) : netConnect({ host, port });
    this.socket = socket;
    this.connectTimer = setTimeout(() => this.fail(new Error('no CONNACK within ' + o.connectTimeoutMs / 1000 + ' s')), o.connectTimeoutMs);
    socket.once(secure ? 'secureConnect' : 'connect', () => this.connect());
    socket.on('data', (d: Buffer) => this.received(d));
    socket.on('error', (e) => this.fail(e));
    socket.on('close', () => {
      clearTimeout(this.connectTimer);
      clearInterval(this.pinger);
      this.events.closed(this.ended ? null : (this.closedWith ?? new Error('connection closed by the broker')));
    });
  }

  subscribe(topic: string, done: (error: Error | null) => void): void {
    const id = this.packetId();
    this.subscriptions[id] = done;
    this.send(packet(SUBSCRIBE, 2, [u16(id), utf8(topic), Buffer.from([1])]));
  }

  publish(topic: string, payload: string, qos: 0 | 1, acked?: () => void): void {
    const n = qos === 1 ? this.packetId() : 0;
    if (n > 0 && acked) this.publications[n] = acked;
    const id = n > 0 ? [u16(n)] : [];
    this.send(packet(PUBLISH, qos << 1, [utf8(topic), ...id, Buffer.from(payload, 'utf8')]));
  }

  end(): Promise<void> {
    this.ended = true;
    const socket = this.socket;
    if (socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      socket.once('close', () => resolve());
      // DISCONNECT only to a broker that accepted us: before CONNACK there is no session to end.
      if (this.accepted) socket.end(packet(DISCONNECT, 0, []));
      else socket.destroy();
    });
  }

  /** Packet identifiers run 1..65535 (section 2.3.1). */
  private packetId(): number {
    return (this.lastId = (this.lastId % 65535) + 1);
  }

  private send(b: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(b);
  }

  /** Closes the connection; the first failure is the one `closed` reports. */
  private fail(e: Error): void {
    if (this.closedWith === undefined) this.closedWith = e;
    this.socket.destroy();
  }

  /** The socket is up: CONNECT with a clean session (section 3.1). */
  private connect(): void {
    const o = this.o;
    const flags = 0x02 | (o.username ? 0x80 : 0) | (o.password ? 0x40 : 0);
    const payload = [utf8(o.clientId || 'ota_' + cryptoModule().randomBytes(6).toString('hex'))];
    if (o.username) payload.push(utf8(o.username));
    if (o.password) payload.push(utf8(o.password));
    this.send(packet(CONNECT, 0, [utf8('MQTT'), Buffer.from([4, flags]), u16(o.keepaliveSeconds), ...payload]));
  }

  /** Socket data: every packet it completes is handled; a malformed one closes the connection. */
  private received(d: Buffer): void {
    this.input = this.input.length === 0 ? d : Buffer.concat([this.input, d]);
    try {
      while (this.readPacket());
    } catch (e) {
      this.fail(e as Error);
    }
  }

  /** Takes one whole packet off `input`; false when none is complete yet. */
  private readPacket(): boolean {
    const input = this.input;
    let length = 0;
    let multiplier = 1;
    let at = 1;
    for (;;) {
      if (at >= input.length) return false;
      const digit = input[at++]!;
      length += (digit & 127) * multiplier;
      if ((digit & 128) === 0) break;
      multiplier *= 128;
      if (at > 4) throw new Error('malformed MQTT packet length');
    }
    if (length > MAX_PACKET_BYTES) throw new Error('MQTT packet of ' + length + ' bytes is too large');
    if (input.length < at + length) return false;
    const type = input[0]! >> 4;
    const flags = input[0]! & 15;
    const body = input.subarray(at, at + length);
    this.input = input.subarray(at + length);
    this.handle(type, flags, body);
    return true;
  }

  /** Dispatches a packet by type; types a client does not expect are ignored. */
  private handle(type: number, flags: number, body: Buffer): void {
    if (!this.accepted && type !== CONNACK) throw new Error('MQTT broker sent packet type ' + type + ' before CONNACK');
    if (type === CONNACK) this.connack(body);
    else if (type === PUBLISH) this.message(flags, body);
    else if (type === SUBACK) this.suback(body);
    else if (type === PUBACK) this.puback(body);
    else if (type === PINGRESP) this.awaitingPong = false;
  }

  /** CONNACK: refused with its return code, or accepted and the keep-alive started. */
  private connack(body: Buffer): void {
    const code = body[1] ?? 255;
    if (code !== 0) throw Object.assign(new Error('Connection refused: ' + (REFUSALS[code] ?? 'code ' + code)), { code });
    this.accepted = true;
    clearTimeout(this.connectTimer);
    this.pinger = setInterval(() => this.ping(), this.o.keepaliveSeconds * 1000);
    this.events.connected();
  }

  /** Keep-alive tick: a PINGREQ, unless the previous one went unanswered a whole period (then the connection is dead). */
  private ping(): void {
    if (this.awaitingPong) return this.fail(new Error('no PINGRESP within ' + this.o.keepaliveSeconds + ' s'));
    this.awaitingPong = true;
    this.send(packet(PINGREQ, 0, []));
  }

  /** An incoming PUBLISH: acknowledged at QoS 1, then reported. */
  private message(flags: number, body: Buffer): void {
    const qos = (flags >> 1) & 3;
    const topicLength = body.readUInt16BE(0);
    const topic = body.toString('utf8', 2, 2 + topicLength);
    let at = 2 + topicLength;
    if (qos > 0) {
      // Granted QoS is at most 1 (the subscription's), so QoS 1 is the only one acknowledged.
      this.send(packet(PUBACK, 0, [body.subarray(at, at + 2)]));
      at += 2;
    }
    this.events.message(topic, body.subarray(at));
  }

  /** SUBACK: return code 0x80 is a refusal (section 3.9.3). */
  private suback(body: Buffer): void {
    const id = body.readUInt16BE(0);
    const done = this.subscriptions[id];
    delete this.subscriptions[id];
    if (done) done(body[2] === 0x80 || body[2] === undefined ? new Error('the broker refused the subscription') : null);
  }

  /** PUBACK for one of our QoS 1 publications. */
  private puback(body: Buffer): void {
    const id = body.readUInt16BE(0);
    const acked = this.publications[id];
    delete this.publications[id];
    if (acked) acked();
  }
}
