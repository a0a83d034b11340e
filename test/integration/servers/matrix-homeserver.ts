/**
 * A small Matrix homeserver for tests: the client-server API subset that matrix-bot-sdk and a
 * plain client use, written from the spec (https://spec.matrix.org/v1.10/client-server-api/):
 * whoami, account data, filters, /sync with since tokens and long polling (timeline, invite and
 * leave sections), createRoom, join, invite, send, room state, joined rooms/members, profile.
 * Access tokens are checked (Authorization: Bearer, or ?access_token=), errors carry errcode.
 * It keeps everything in memory; it is a real server the real client talks to over HTTP.
 *
 * The Matrix tests run against a real Synapse when its tarball is there (matrix-server.ts picks);
 * this server stands in without it, and produces the one fault Synapse cannot be made to: a
 * homeserver that answers everything but holds every /sync forever (`holdSync`).
 */
import { createServer } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

interface StoredEvent {
  pos: number;
  roomId: string;
  event: Record<string, unknown>;
}

/** A running test homeserver (it fits matrix-server.ts's MatrixTestServer). */
export interface Homeserver {
  readonly description: string;
  readonly url: string;
  /** Make a user `@<localpart>:localhost`; resolves to its access token. */
  register(localpart: string): Promise<string>;
  /** Refuse connections until start(); what it stored is kept. */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
  /** Stop answering: every /sync from now on is held open until the server closes. */
  holdSync(): void;
  /** How many /sync requests are being held now. */
  heldSyncs(): number;
}

/** Options for the home-made homeserver. */
export interface HomeserverOptions {
  /** Hold every /sync open from the start. */
  holdSync?: boolean;
}

class MatrixFailure extends Error {
  constructor(
    readonly status: number,
    readonly errcode: string,
    message: string,
  ) {
    super(message);
  }
}

/** Start the homeserver on a free loopback port, for server name `localhost`. */
export async function startHomeserver(options: HomeserverOptions = {}): Promise<Homeserver> {
  let holding = options.holdSync ?? false;
  const held = new Set<() => void>();
  const tokens = new Map<string, string>(); // token -> user id
  const events: StoredEvent[] = [];
  const members = new Map<string, Map<string, string>>(); // room -> user -> membership
  const accountData = new Map<string, unknown>(); // user|type -> content
  const txns = new Map<string, string>(); // user|txn -> event id
  const waiters = new Set<() => void>();
  let counter = 0;

  const addEvent = (roomId: string, event: Record<string, unknown>): string => {
    const eventId = `$e${++counter}:localhost`;
    events.push({
      pos: events.length + 1,
      roomId,
      event: {
        ...event,
        event_id: eventId,
        room_id: roomId,
        origin_server_ts: Date.now(),
        unsigned: { age: 0 },
      },
    });
    for (const wake of [...waiters]) wake();
    return eventId;
  };
  const setMembership = (
    roomId: string,
    sender: string,
    target: string,
    membership: string,
    extra: Record<string, unknown> = {},
  ): void => {
    members.get(roomId)!.set(target, membership);
    addEvent(roomId, { type: "m.room.member", sender, state_key: target, content: { membership, ...extra } });
  };
  const roomOf = (roomId: string): Map<string, string> => {
    const room = members.get(roomId);
    if (!room) throw new MatrixFailure(404, "M_NOT_FOUND", `no room ${roomId}`);
    return room;
  };

  const syncFor = (user: string, since: number): Record<string, unknown> => {
    const join: Record<string, unknown> = {};
    const invite: Record<string, unknown> = {};
    const leave: Record<string, unknown> = {};
    for (const [roomId, room] of members) {
      const m = room.get(user);
      const fresh = events.filter((e) => e.roomId === roomId && e.pos > since);
      if (m === "join") {
        const timeline = since === 0 ? fresh.slice(-20) : fresh;
        if (timeline.length > 0 || since === 0)
          join[roomId] = {
            timeline: { events: timeline.map((e) => e.event), limited: false },
            state: { events: [] },
          };
      } else if (m === "invite") {
        if (
          since === 0 ||
          fresh.some((e) => e.event.state_key === user && e.event.type === "m.room.member")
        ) {
          const state = events
            .filter((e) => e.roomId === roomId && typeof e.event.state_key === "string")
            .map((e) => e.event);
          invite[roomId] = { invite_state: { events: state } };
        }
      } else if (m === "leave" && fresh.length > 0) {
        leave[roomId] = { timeline: { events: fresh.map((e) => e.event) } };
      }
    }
    return {
      next_batch: `s${events.length}`,
      rooms: { join, invite, leave },
      account_data: { events: [] },
      presence: { events: [] },
    };
  };

  const handle = async (req: IncomingMessage, url: URL, body: Record<string, unknown>): Promise<unknown> => {
    const path = url.pathname;
    if (path === "/_matrix/client/versions") return { versions: ["v1.1", "v1.10"] };
    const header = req.headers.authorization ?? "";
    const token = header.startsWith("Bearer ")
      ? header.slice(7)
      : (url.searchParams.get("access_token") ?? "");
    const user = tokens.get(token);
    if (!user)
      throw new MatrixFailure(
        401,
        token ? "M_UNKNOWN_TOKEN" : "M_MISSING_TOKEN",
        "Unrecognised access token",
      );
    const parts = path.split("/").map(decodeURIComponent); // ["", "_matrix", "client", "v3", ...]
    const api = parts.slice(4);
    const [a, b, c, d, e] = api;
    const method = req.method ?? "GET";
    if (a === "account" && b === "whoami") return { user_id: user, device_id: "TESTDEVICE" };
    if (a === "joined_rooms")
      return { joined_rooms: [...members].filter(([, r]) => r.get(user) === "join").map(([id]) => id) };
    if (a === "user" && c === "filter" && method === "POST") return { filter_id: "1" };
    if (a === "user" && c === "account_data" && d) {
      if (b !== user) throw new MatrixFailure(403, "M_FORBIDDEN", "not your account data");
      if (method === "PUT") {
        accountData.set(`${user}|${d}`, body);
        return {};
      }
      const found = accountData.get(`${user}|${d}`);
      if (found === undefined) throw new MatrixFailure(404, "M_NOT_FOUND", "Account data not found");
      return found;
    }
    if (a === "profile" && b) return { displayname: b.slice(1).split(":")[0] };
    if (a === "sync" && holding) {
      await new Promise<void>((resolve) => held.add(resolve));
      throw new MatrixFailure(503, "M_UNKNOWN", "homeserver closed");
    }
    if (a === "sync") {
      const since = Number((url.searchParams.get("since") ?? "s0").slice(1)) || 0;
      const timeout = Math.min(Number(url.searchParams.get("timeout") ?? "0") || 0, 30_000);
      const deadline = Date.now() + timeout;
      for (;;) {
        const result = syncFor(user, since);
        const rooms = result.rooms as Record<string, Record<string, unknown>>;
        const any =
          Object.keys(rooms.join!).length +
            Object.keys(rooms.invite!).length +
            Object.keys(rooms.leave!).length >
          0;
        if (any || since === 0 || Date.now() >= deadline) return result;
        await new Promise<void>((resolve) => {
          const wake = (): void => {
            waiters.delete(wake);
            clearTimeout(timer);
            resolve();
          };
          const timer = setTimeout(wake, Math.max(0, deadline - Date.now()));
          waiters.add(wake);
        });
      }
    }
    if (a === "createRoom" && method === "POST") {
      const roomId = `!r${++counter}:localhost`;
      members.set(roomId, new Map());
      addEvent(roomId, { type: "m.room.create", sender: user, state_key: "", content: { creator: user } });
      setMembership(roomId, user, user, "join");
      for (const invitee of (body.invite as string[] | undefined) ?? [])
        setMembership(roomId, user, invitee, "invite", body.is_direct ? { is_direct: true } : {});
      return { room_id: roomId };
    }
    if (a === "join" && b && method === "POST") {
      const room = roomOf(b);
      const m = room.get(user);
      if (m !== "invite" && m !== "join")
        throw new MatrixFailure(403, "M_FORBIDDEN", `${user} is not invited to ${b}`);
      if (m !== "join") setMembership(b, user, user, "join");
      return { room_id: b };
    }
    if (a === "rooms" && b) {
      const room = roomOf(b);
      const joined = room.get(user) === "join";
      if (c === "join" && method === "POST")
        return handle(req, new URL(`/_matrix/client/v3/join/${encodeURIComponent(b)}`, url), body);
      if (!joined) throw new MatrixFailure(403, "M_FORBIDDEN", `${user} is not in room ${b}`);
      if (c === "invite" && method === "POST") {
        setMembership(b, user, String(body.user_id), "invite");
        return {};
      }
      if (c === "leave" && method === "POST") {
        setMembership(b, user, user, "leave");
        return {};
      }
      if (c === "send" && d && e && method === "PUT") {
        const key = `${user}|${e}`;
        const known = txns.get(key);
        if (known) return { event_id: known };
        const eventId = addEvent(b, { type: d, sender: user, content: body });
        txns.set(key, eventId);
        return { event_id: eventId };
      }
      if (c === "state" && d && e !== undefined && method === "GET") {
        const found = events.findLast((x) => x.roomId === b && x.event.type === d && x.event.state_key === e);
        if (!found) throw new MatrixFailure(404, "M_NOT_FOUND", "Event not found.");
        return found.event.content;
      }
      if (c === "messages" && method === "GET") {
        // Newest first (dir=b), as the tests read them; no pagination tokens.
        const limit = Number(url.searchParams.get("limit") ?? "10") || 10;
        const chunk = events
          .filter((x) => x.roomId === b)
          .slice(-limit)
          .reverse()
          .map((x) => x.event);
        return { chunk, start: "t0" };
      }
      if (c === "state" && method === "GET") {
        return events
          .filter((x) => x.roomId === b && typeof x.event.state_key === "string")
          .map((x) => x.event);
      }
      if (c === "joined_members") {
        return {
          joined: Object.fromEntries(
            [...room].filter(([, m]) => m === "join").map(([u]) => [u, { display_name: u }]),
          ),
        };
      }
      if (c === "members") {
        return {
          chunk: events.filter((x) => x.roomId === b && x.event.type === "m.room.member").map((x) => x.event),
        };
      }
    }
    throw new MatrixFailure(404, "M_UNRECOGNIZED", `Unrecognized request: ${method} ${path}`);
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://localhost");
      let body: Record<string, unknown> = {};
      try {
        const text = Buffer.concat(chunks).toString("utf8");
        body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      } catch {
        res
          .writeHead(400, { "content-type": "application/json" })
          .end(JSON.stringify({ errcode: "M_NOT_JSON", error: "Content not JSON." }));
        return;
      }
      handle(req, url, body).then(
        (result) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(result)),
        (err: unknown) => {
          const f = err instanceof MatrixFailure ? err : new MatrixFailure(500, "M_UNKNOWN", String(err));
          res
            .writeHead(f.status, { "content-type": "application/json" })
            .end(JSON.stringify({ errcode: f.errcode, error: f.message }));
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const stop = async (): Promise<void> => {
    for (const wake of [...waiters]) wake();
    for (const release of [...held]) release();
    held.clear();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    description: `the home-made homeserver (test/integration/servers/matrix-homeserver.ts)`,
    url: `http://127.0.0.1:${port}`,
    async register(localpart) {
      const token = `token-${localpart}-${Math.random().toString(36).slice(2)}`;
      tokens.set(token, `@${localpart}:localhost`);
      return token;
    },
    holdSync() {
      holding = true;
    },
    heldSyncs: () => held.size,
    stop,
    async start() {
      await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    },
    close: stop,
  };
}
