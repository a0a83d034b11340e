/**
 * RFC 2136 dynamic update signed with TSIG (RFC 8945), built on dns-packet's name and record
 * encoders. dns-packet cannot write an UPDATE's "delete RRset" records (class ANY, no RDATA) nor
 * TSIG, so this file assembles the message itself and uses dns-packet for the parts it can.
 */
import { createHmac, randomInt, timingSafeEqual } from "node:crypto";
import { createSocket } from "node:dgram";
import { connect } from "node:net";
import dnsPacket from "dns-packet";
import type { Answer } from "dns-packet";
import { DnsUpdateFailure } from "../errors.js";

// dns-packet exports its name and record encoders, but @types/dns-packet does not declare them.
const packet = dnsPacket as unknown as {
  answer: { encode(a: Answer): Buffer };
  name: { encode(n: string): Buffer };
};

/** A TSIG key: name, algorithm, and the shared secret (never logged). */
export interface TsigKey {
  name: string;
  algorithm: "hmac-sha256" | "hmac-sha512" | "hmac-sha1";
  secret: Buffer;
}

/** One update: the zone, RRsets to delete (name + type), then records to add. */
export interface UpdateRequest {
  zone: string;
  deleteRRsets: { name: string; type: string }[];
  add: Answer[];
}

/** Where and how to send the update. */
export interface UpdateTarget {
  server: string;
  port: number;
  transport: "udp" | "tcp";
  timeoutMs: number;
}

const OPCODE_UPDATE = 5;
const CLASS_IN = 1;
const CLASS_ANY = 255;
const TYPE_TSIG = 250;
const FUDGE = 300;

/** DNS RCODEs (RFC 1035, 2136) and TSIG error codes (RFC 8945), for messages. */
export const RCODE_NAMES: Readonly<Record<number, string>> = {
  0: "NOERROR",
  1: "FORMERR",
  2: "SERVFAIL",
  3: "NXDOMAIN",
  4: "NOTIMP",
  5: "REFUSED",
  6: "YXDOMAIN",
  7: "YXRRSET",
  8: "NXRRSET",
  9: "NOTAUTH",
  10: "NOTZONE",
  16: "BADSIG",
  17: "BADKEY",
  18: "BADTIME",
  22: "BADTRUNC",
};

/** Encode an unsigned UPDATE message with the given id. */
export function encodeUpdate(req: UpdateRequest, id: number): Buffer {
  const parts: Buffer[] = [];
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(OPCODE_UPDATE << 11, 2);
  header.writeUInt16BE(1, 4); // ZOCOUNT
  header.writeUInt16BE(0, 6); // PRCOUNT: no prerequisites, the update converges whatever is there
  header.writeUInt16BE(req.deleteRRsets.length + req.add.length, 8); // UPCOUNT
  header.writeUInt16BE(0, 10); // ADCOUNT
  parts.push(header);
  parts.push(nameWire(req.zone), u16(typeCode("SOA")), u16(CLASS_IN));
  for (const d of req.deleteRRsets) {
    // Delete an RRset: class ANY, TTL 0, RDLENGTH 0 (RFC 2136 2.5.2).
    parts.push(nameWire(d.name), u16(typeCode(d.type)), u16(CLASS_ANY), Buffer.alloc(4), u16(0));
  }
  for (const rr of req.add) parts.push(packet.answer.encode({ ...rr, class: "IN" } as Answer));
  return Buffer.concat(parts);
}

/** Append a TSIG record to `message`; returns the signed message and the MAC (for the reply). */
export function sign(message: Buffer, key: TsigKey, timeSigned: number): { signed: Buffer; mac: Buffer } {
  const id = message.readUInt16BE(0);
  const mac = hmac(key, [message, tsigVariables(key, timeSigned, 0, Buffer.alloc(0))]);
  const rdata = Buffer.concat([
    nameWire(key.algorithm),
    time48(timeSigned),
    u16(FUDGE),
    u16(mac.length),
    mac,
    u16(id),
    u16(0),
    u16(0),
  ]);
  const rr = Buffer.concat([
    nameWire(key.name),
    u16(TYPE_TSIG),
    u16(CLASS_ANY),
    Buffer.alloc(4),
    u16(rdata.length),
    rdata,
  ]);
  const signed = Buffer.concat([message, rr]);
  signed.writeUInt16BE(message.readUInt16BE(10) + 1, 10);
  return { signed, mac };
}

/** The parts of a response's TSIG record this client checks. */
interface ResponseTsig {
  error: number;
  mac: Buffer;
  timeSigned: number;
  /** The response without its TSIG record, ARCOUNT decremented, for the MAC. */
  unsigned: Buffer;
  otherData: Buffer;
}

/**
 * Check the reply: its TSIG must be signed with our key over our request's MAC (so a forged
 * NOERROR cannot make jarvis believe DNS was updated). Returns the rcode, or throws.
 */
export function checkResponse(reply: Buffer, key: TsigKey, requestMac: Buffer, expectId: number): number {
  if (reply.length < 12) throw new DnsUpdateFailure("E_DNS_REPLY", "DNS reply too short", true);
  if (reply.readUInt16BE(0) !== expectId)
    throw new DnsUpdateFailure("E_DNS_REPLY", "DNS reply for another query id", true);
  const rcode = reply.readUInt16BE(2) & 0xf;
  const tsig = findTsig(reply);
  if (!tsig) {
    // Servers answer without TSIG when they cannot verify our key (RFC 8945 5.2): report the rcode.
    if (rcode === 0)
      throw new DnsUpdateFailure(
        "E_DNS_UNSIGNED",
        "the DNS server answered NOERROR without signing its reply; refusing to trust it",
        false,
      );
    return rcode;
  }
  if (tsig.error !== 0) return tsig.error;
  const expected = hmac(key, [
    u16(requestMac.length),
    requestMac,
    tsig.unsigned,
    tsigVariables(key, tsig.timeSigned, 0, tsig.otherData),
  ]);
  if (tsig.mac.length !== expected.length || !timingSafeEqual(tsig.mac, expected)) {
    throw new DnsUpdateFailure(
      "E_DNS_BADSIG",
      "the DNS server's reply carries a TSIG signature that does not verify with our key",
      false,
    );
  }
  return rcode;
}

/** Sign, send, and check one update; throws DnsUpdateFailure naming the rcode on refusal. */
export async function sendUpdate(
  req: UpdateRequest,
  key: TsigKey,
  target: UpdateTarget,
  signal: AbortSignal,
): Promise<void> {
  const id = randomInt(0, 0x10000);
  const { signed, mac } = sign(encodeUpdate(req, id), key, Math.floor(Date.now() / 1000));
  const reply = await exchangeMessage(signed, target, signal);
  const rcode = checkResponse(reply, key, mac, id);
  if (rcode === 0) return;
  const name = RCODE_NAMES[rcode] ?? `RCODE ${rcode}`;
  const hint: Record<string, string> = {
    BADSIG: `the TSIG secret for key ${key.name} is wrong; check the secret in jarvis's environment`,
    BADKEY: `the server does not know TSIG key ${key.name} (${key.algorithm}); check modules.dns.with.key_name/algorithm`,
    BADTIME: "this machine's clock and the DNS server's differ by more than 5 minutes",
    NOTAUTH: `the server is not authoritative for ${req.zone} or refused key ${key.name}; check modules.dns.with.zone and the key`,
    REFUSED: `the server refused updates to ${req.zone} with key ${key.name}; check its update-policy / allow-update`,
    NOTZONE: `a record name is outside zone ${req.zone}`,
  };
  throw new DnsUpdateFailure(
    `E_DNS_${name}`,
    `DNS update of ${req.zone} refused: ${name}${hint[name] ? `: ${hint[name]}` : ""}`,
    name === "SERVFAIL",
  );
}

/** Send one message and return the reply; a truncated UDP reply is asked again over TCP. */
export async function exchangeMessage(
  message: Buffer,
  target: UpdateTarget,
  signal: AbortSignal,
): Promise<Buffer> {
  const reply =
    target.transport === "udp"
      ? await exchangeUdp(message, target, signal)
      : await exchangeTcp(message, target, signal);
  if (target.transport === "udp" && reply.length >= 4 && (reply.readUInt16BE(2) & 0x0200) !== 0) {
    return exchangeTcp(message, target, signal); // truncated: the same message over TCP
  }
  return reply;
}

/**
 * One request and its reply over a socket that `open` sets up, bounded by the target's timeout
 * and the step's abort signal; `settle` ends it either way and `close` releases the socket.
 */
function exchange(
  target: UpdateTarget,
  signal: AbortSignal,
  open: (settle: (err: Error | undefined, reply?: Buffer) => void) => { close(): void },
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let close = (): void => undefined;
    const settle = (err: Error | undefined, reply?: Buffer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      close();
      if (err) reject(err);
      else resolve(reply!);
    };
    const timer = setTimeout(() => settle(unreachable(target, "no answer")), target.timeoutMs);
    signal.addEventListener(
      "abort",
      () => settle(new DnsUpdateFailure("E_STEP_ABORTED", "stopped by jarvis during the DNS update", true)),
      { once: true },
    );
    const socket = open(settle);
    if (settled) socket.close();
    else close = () => socket.close();
  });
}

function exchangeUdp(message: Buffer, target: UpdateTarget, signal: AbortSignal): Promise<Buffer> {
  return exchange(target, signal, (settle) => {
    const socket = createSocket(target.server.includes(":") ? "udp6" : "udp4");
    socket.on("error", (err) => settle(unreachable(target, err.message)));
    socket.on("message", (reply) => settle(undefined, reply));
    socket.connect(target.port, target.server, () => socket.send(message));
    return { close: () => socket.close() };
  });
}

function exchangeTcp(message: Buffer, target: UpdateTarget, signal: AbortSignal): Promise<Buffer> {
  return exchange(target, signal, (settle) => {
    const socket = connect({ host: target.server, port: target.port });
    let buffered = Buffer.alloc(0);
    socket.on("error", (err) => settle(unreachable(target, err.message)));
    socket.on("connect", () => socket.write(Buffer.concat([u16(message.length), message])));
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0))
        settle(undefined, buffered.subarray(2, 2 + buffered.readUInt16BE(0)));
    });
    socket.on("end", () => settle(unreachable(target, "connection closed before a reply")));
    return { close: () => socket.destroy() };
  });
}

function unreachable(target: UpdateTarget, why: string): DnsUpdateFailure {
  return new DnsUpdateFailure(
    "E_DNS_UNREACHABLE",
    `DNS server ${target.server}:${target.port} (${target.transport}) did not answer: ${why}; is it running?`,
    true,
  );
}

function findTsig(reply: Buffer): ResponseTsig | undefined {
  const counts = [4, 6, 8, 10].map((o) => reply.readUInt16BE(o));
  let offset = 12;
  for (let i = 0; i < counts[0]!; i++) offset = skipName(reply, offset) + 4;
  const rrs = counts[1]! + counts[2]! + counts[3]!;
  for (let i = 0; i < rrs; i++) {
    const start = offset;
    offset = skipName(reply, offset);
    const type = reply.readUInt16BE(offset);
    const rdlen = reply.readUInt16BE(offset + 8);
    const rdata = offset + 10;
    offset = rdata + rdlen;
    if (type !== TYPE_TSIG || i !== rrs - 1) continue;
    let p = skipName(reply, rdata);
    const timeSigned = reply.readUInt16BE(p) * 2 ** 32 + reply.readUInt32BE(p + 2);
    const macLen = reply.readUInt16BE(p + 8);
    const mac = reply.subarray(p + 10, p + 10 + macLen);
    p += 10 + macLen + 2; // original id
    const error = reply.readUInt16BE(p);
    const otherLen = reply.readUInt16BE(p + 2);
    const otherData = reply.subarray(p + 4, p + 4 + otherLen);
    const unsigned = Buffer.from(reply.subarray(0, start));
    unsigned.writeUInt16BE(counts[3]! - 1, 10);
    return { error, mac, timeSigned, unsigned, otherData };
  }
  return undefined;
}

function skipName(buf: Buffer, offset: number): number {
  for (let guard = 0; guard < 128; guard++) {
    const len = buf[offset];
    if (len === undefined) throw new DnsUpdateFailure("E_DNS_REPLY", "malformed DNS reply", true);
    if (len === 0) return offset + 1;
    if ((len & 0xc0) === 0xc0) return offset + 2;
    offset += len + 1;
  }
  throw new DnsUpdateFailure("E_DNS_REPLY", "malformed DNS reply", true);
}

/** TSIG variables (RFC 8945 4.3.3): key name, class, TTL, algorithm, time, fudge, error, other. */
function tsigVariables(key: TsigKey, timeSigned: number, error: number, other: Buffer): Buffer {
  return Buffer.concat([
    nameWire(key.name),
    u16(CLASS_ANY),
    Buffer.alloc(4),
    nameWire(key.algorithm),
    time48(timeSigned),
    u16(FUDGE),
    u16(error),
    u16(other.length),
    other,
  ]);
}

function hmac(key: TsigKey, parts: Buffer[]): Buffer {
  const h = createHmac(key.algorithm.slice(5), key.secret);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** A name in canonical wire form: lower case, uncompressed (what TSIG's MAC covers). */
function nameWire(name: string): Buffer {
  return packet.name.encode(name.toLowerCase());
}

function typeCode(type: string): number {
  const codes: Record<string, number> = { A: 1, CNAME: 5, SOA: 6, AAAA: 28, SSHFP: 44 };
  const code = codes[type];
  if (code === undefined) throw new Error(`unsupported record type ${type}`);
  return code;
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function time48(seconds: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUInt16BE(Math.floor(seconds / 2 ** 32), 0);
  b.writeUInt32BE(seconds % 2 ** 32, 2);
  return b;
}
