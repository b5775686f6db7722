/**
 * The MQTT 3.1.1 session (src/platform/node/mqtt-session.ts) against a raw TCP broker that writes
 * the bytes of the OASIS MQTT 3.1.1 specification (sections 3.1-3.14): what Mosquitto in
 * test/mqtt.test.ts never does on its own (refusals, packets split across reads, silence).
 */
import { createServer, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { mqttSession } from '../src/platform/node/mqtt-session.js';
import { mqttTrigger } from '../src/platform/node/mqtt-trigger.js';
import { listenLocal, onCleanup, until } from './helpers/fixtures.js';

/** A broker that hands each connection and everything it receives to `onData`. */
async function rawBroker(onData: (socket: Socket, received: Buffer) => void): Promise<string> {
  const url = await listenLocal(
    createServer((socket) => {
      let all = Buffer.alloc(0);
      socket.on('error', () => undefined);
      socket.on('data', (d) => {
        all = Buffer.concat([all, d]);
        onData(socket, all);
      });
    }),
  );
  return url.replace('http://', 'mqtt://');
}

function open(url: string, keepaliveSeconds = 60) {
  const events: string[] = [];
  const messages: string[] = [];
  let closed: Error | null | undefined;
  const s = mqttSession(
    { url, username: 'acme', password: 'secret', keepaliveSeconds, connectTimeoutMs: 2000 },
    {
      connected: () => events.push('connected'),
      message: (topic, payload) => messages.push(topic + ' ' + payload.toString()),
      closed: (e) => (closed = e),
    },
  );
  onCleanup(() => s.end());
  return { s, events, messages, closed: () => closed };
}

const CONNACK_OK = Buffer.from([0x20, 2, 0, 0]);

/** The packet identifiers of the QoS 1 PUBLISH packets in `bytes` (short packets: one length byte). */
function publishIds(bytes: Buffer): number[] {
  const ids: number[] = [];
  for (let at = 0; at + 2 <= bytes.length; at += 2 + bytes[at + 1]!) {
    if (bytes[at] !== 0x32) continue; // PUBLISH, QoS 1 (section 3.3.1)
    const topicLength = bytes.readUInt16BE(at + 2);
    ids.push(bytes.readUInt16BE(at + 4 + topicLength));
  }
  return ids;
}

describe('MQTT session', () => {
  it('sends CONNECT with user and password, and ends with the reason when the broker refuses it', async () => {
    let connect: Buffer | null = null;
    const url = await rawBroker((socket, got) => {
      connect = got;
      socket.end(Buffer.from([0x20, 2, 0, 4])); // return code 4: bad user name or password
    });
    const c = open(url);
    await until('the session to end', () => c.closed() !== undefined);
    expect(c.closed()?.message).toBe('Connection refused: Bad username or password');
    expect((c.closed() as Error & { code: number }).code).toBe(4);
    expect(c.events).toEqual([]);
    const text = connect!.toString('latin1');
    expect(connect![0]).toBe(0x10);
    expect(text).toContain('\x00\x04MQTT\x04\xc2'); // protocol name, level 4, user + password + clean session
    expect(text.endsWith('\x00\x04acme\x00\x06secret')).toBe(true);
  });

  it('takes a QoS 1 message split across reads, acknowledges it, and answers', async () => {
    const seen: Buffer[] = [];
    const url = await rawBroker((socket, got) => {
      seen.push(got);
      if (seen.length !== 1) return;
      socket.write(CONNACK_OK);
      // PUBLISH QoS 1, topic "t/x", packet id 7, payload "flash", in three writes.
      const publish = Buffer.from([0x32, 12, 0, 3, 0x74, 0x2f, 0x78, 0, 7, 0x66, 0x6c, 0x61, 0x73, 0x68]);
      socket.write(publish.subarray(0, 1));
      setTimeout(() => socket.write(publish.subarray(1, 6)), 20);
      setTimeout(() => socket.write(publish.subarray(6)), 40);
    });
    const c = open(url);
    await until('the message', () => c.messages.length > 0);
    expect(c.events).toEqual(['connected']);
    expect(c.messages).toEqual(['t/x flash']);
    await until('the PUBACK', () => seen.at(-1)!.includes(Buffer.from([0x40, 2, 0, 7])));
    c.s.publish('t/answer', '{"code":200}', 1);
    await until('the answer', () => seen.at(-1)!.includes(Buffer.from('t/answer')));
    const all = seen.at(-1)!;
    const at = all.indexOf(Buffer.from([0x32]), all.indexOf(Buffer.from([0x40, 2, 0, 7])) + 4);
    expect(all.subarray(at, at + 2)).toEqual(Buffer.from([0x32, 2 + 8 + 2 + 12]));
  });

  it('reports the PUBACK of a QoS 1 publication by its packet identifier (section 3.4), and none when the connection ends first', async () => {
    let client: Socket | null = null;
    let ids: number[] = [];
    const url = await rawBroker((socket, got) => {
      client = socket;
      if (got[0] === 0x10 && got.length === got[1]! + 2) socket.write(CONNACK_OK);
      ids = publishIds(got);
    });
    const c = open(url);
    await until('the connection', () => c.events.length > 0);
    const acked: string[] = [];
    c.s.publish('/acme/devices/d1/update-trigger', 'flash', 1, () => acked.push('first'));
    c.s.publish('/acme/devices/d2/update-trigger', 'flash', 1, () => acked.push('second'));
    c.s.publish('/acme/devices/d3/update-trigger', 'flash', 1, () => acked.push('third'));
    await until('three publications', () => ids.length === 3);
    expect(new Set(ids).size).toBe(3);
    // Acknowledged out of order, the third never.
    client!.write(Buffer.from([0x40, 2, ids[1]! >> 8, ids[1]! & 255, 0x40, 2, ids[0]! >> 8, ids[0]! & 255]));
    await until('two acknowledgements', () => acked.length === 2);
    expect(acked).toEqual(['second', 'first']);
    client!.destroy();
    await until('the session to end', () => c.closed() !== undefined);
    expect(acked).toEqual(['second', 'first']);
  });

  it('drops a connection whose broker stops answering PINGREQ', async () => {
    const url = await rawBroker((socket, got) => {
      if (got.length === got.indexOf(0x10) + got[1]! + 2) socket.write(CONNACK_OK); // CONNACK, then silence
    });
    const c = open(url, 1);
    await until('the session to end', () => c.closed() !== undefined, 5000);
    expect(c.closed()?.message).toBe('no PINGRESP within 1 s');
  });
});

describe('MQTT trigger (src/platform/node/mqtt-trigger.ts) over the kept connection', () => {
  it('answers a request only on a connection the broker accepted: a code due while reconnecting is not sent before the next CONNACK', async () => {
    const connections: { socket: Socket; got: Buffer }[] = [];
    const url = await rawBroker((socket, got) => {
      let c = connections.find((x) => x.socket === socket);
      if (!c) connections.push((c = { socket, got }));
      c.got = got;
      if (connections.length > 1) return; // the second connection gets no CONNACK
      const connectEnd = got[1]! + 2;
      if (got.length === connectEnd) socket.write(CONNACK_OK);
      else if (got[connectEnd] === 0x82 && got.length === connectEnd + 2 + got[connectEnd + 1]!) {
        // SUBACK for packet id 1 granting QoS 1, then a request (PUBLISH QoS 0, payload "go").
        const topic = Buffer.from('/acme/devices/d1/update-trigger');
        socket.write(Buffer.concat([Buffer.from([0x90, 3, 0, 1, 1, 0x30, 2 + topic.length + 2, 0, topic.length]), topic, Buffer.from('go')]));
      }
    });
    const trigger = mqttTrigger(
      { url, clientId: 'd1', username: 'acme', password: 'secret', triggerTopic: '/acme/devices/d1/update-trigger', responseTopic: '/acme/devices/d1/update-response' },
      { log: () => undefined },
    );
    onCleanup(() => trigger.stop());
    let respond: ((code: number) => void) | null = null;
    trigger.start((r) => (respond = r));
    await until('the request', () => respond !== null);
    respond!(200);
    await until('the answer on the accepted connection', () => connections[0]!.got.includes(Buffer.from('update-response')));
    connections[0]!.socket.destroy();
    await until('the reconnection', () => connections.length === 2 && connections[1]!.got.length >= 2 && connections[1]!.got.length === connections[1]!.got[1]! + 2, 5000);
    respond!(201); // the check's result, while the new connection waits for its CONNACK
    await new Promise((r) => setTimeout(r, 300));
    expect(connections[1]!.got[0]).toBe(0x10);
    expect(connections[1]!.got.length).toBe(connections[1]!.got[1]! + 2); // CONNECT, and nothing after it
  });
});
