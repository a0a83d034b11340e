/**
 * Clipboards on the bus. Most fit in the message; one above half the server's max_payload (the
 * rest is room for the request around it) goes through the object store, and the message carries
 * its name, size and SHA-256, checked by whoever reads it back.
 */
import { createHash } from "node:crypto";
import { BusError } from "../../errors.js";
import type { Bus } from "./nats-bus.js";
import { CLIPBOARD_BUCKET } from "./nats-wire.js";
import type { WireClipboard } from "./nats-wire.js";

/** The clipboard as it travels: inline when small, else stored under `objectName`. */
export async function clipboardToWire(bus: Bus, objectName: string, yaml: string): Promise<WireClipboard> {
  const bytes = Buffer.byteLength(yaml);
  if (bytes <= bus.maxPayload / 2) return { inline: yaml };
  const data = Buffer.from(yaml);
  await bus.clipboards.putBlob({ name: objectName }, data);
  return { object: objectName, sha256: sha256(data), bytes };
}

/** The clipboard text back, its digest checked; a mismatch or a missing object is a BusError. */
export async function clipboardFromWire(bus: Bus, clipboard: WireClipboard, what: string): Promise<string> {
  if ("inline" in clipboard) return clipboard.inline;
  const data = await bus.clipboards.getBlob(clipboard.object);
  if (!data) {
    throw new BusError(
      "E_BUS_CLIPBOARD_MISSING",
      `${what}: object ${clipboard.object} is gone from the ${CLIPBOARD_BUCKET} object store; the attempt is tried again`,
      { retryable: true },
    );
  }
  const digest = sha256(data);
  if (data.byteLength !== clipboard.bytes || digest !== clipboard.sha256) {
    throw new BusError(
      "E_BUS_CLIPBOARD_DIGEST",
      `${what}: object ${clipboard.object} is ${data.byteLength} bytes with SHA-256 ${digest}, but the message said ${clipboard.bytes} bytes with ${clipboard.sha256}; the attempt is tried again`,
      { retryable: true },
    );
  }
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8");
}

/** Remove a stored clipboard once both sides are done with it (the bucket's TTL catches the rest). */
export async function dropWireClipboard(bus: Bus, clipboard: WireClipboard | undefined): Promise<void> {
  if (clipboard && "object" in clipboard) await bus.clipboards.delete(clipboard.object);
}

function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}
